"""The training flagfiles, shipped with the package: one `<variant>.flags` per variant (the six of Ferraro et al.
2021, the intra-modal ones of docs/intra_modal.md and the playlist-tag ones of docs/playlist_tags.md).

    cmir-train --flagfile=$(python -m cmir_tf.flagfiles contrcf_g) --data_dir=PREPARED --model_dir=RUN

`python -m cmir_tf.flagfiles NAME` prints the file's path; without a name it lists the names. In a checkout the
same files sit at the repository root (`train.py --flagfile=contrcf_g.flags`).
"""

from __future__ import annotations

import os

from cmir_tf import errors

FOLDER = os.path.dirname(os.path.abspath(__file__))
SUFFIX = ".flags"


def names() -> list[str]:
    """The packaged flagfiles' names, e.g. `contrcf_g`, sorted."""
    return sorted(f[: -len(SUFFIX)] for f in os.listdir(FOLDER) if f.endswith(SUFFIX))


def path(name: str) -> str:
    """The packaged flagfile `name` (`contrcf_g` or `contrcf_g.flags`); `ValueError` naming the choices."""
    name = name.removesuffix(SUFFIX)
    if name not in names():
        raise errors.ConfigError(f"no packaged flagfile {name!r}; choose one of {', '.join(names())}")
    return os.path.join(FOLDER, name + SUFFIX)
