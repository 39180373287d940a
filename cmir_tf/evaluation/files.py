"""Files: locating a dataset's audio by stem, reporting missing ones (atomic writes: `cmir_tf.data.atomic`)."""

from __future__ import annotations

import os
from collections.abc import Iterable

from cmir_tf import errors

MAX_NAMED = 5  # missing files named in an error message


def find_by_stem(path: str) -> str | None:
    """Returns `path` if it exists, else a file in the same folder with the same stem and any extension.

    `genres/blues/blues.00012.wav` also finds `blues.00012.au`; `41/241.mp3` also finds `41/241.wav`
    or `41/241.low.mp3`. Returns None when nothing matches; with several matches the first in
    sorted order wins.
    """
    if os.path.isfile(path):
        return path
    folder, name = os.path.split(path)
    stem = os.path.splitext(name)[0]
    try:
        entries = sorted(os.listdir(folder or "."))
    except FileNotFoundError:
        return None
    for entry in entries:
        if entry.startswith(stem + ".") and os.path.isfile(os.path.join(folder, entry)):
            return os.path.join(folder, entry)
    return None


class MissingFilesError(errors.InputError, FileNotFoundError):
    """A split lists files that are not on disk (and `allow_missing` is off)."""


def check_missing(missing: Iterable[str], n_listed: int, what: str, allow_missing: bool) -> int:
    """Raises `MissingFilesError` naming the first missing files unless `allow_missing`, and always when
    nothing listed is there (a wrong folder); returns the count."""
    missing = list(missing)
    if len(missing) == n_listed:
        raise MissingFilesError(f"none of the {n_listed} files listed in {what} exist (first ones: "
                                f"{', '.join(missing[:MAX_NAMED])}): check the dataset folder")
    if missing and not allow_missing:
        named = ", ".join(missing[:MAX_NAMED])
        raise MissingFilesError(
            f"{len(missing)} of {n_listed} files listed in {what} are missing (first ones: {named}); "
            "pass --allow_missing to skip them")
    return len(missing)
