"""`cache/config.json`: the inputs and flags a prepared directory is made from, so no rerun mixes two recipes.

The fingerprint is written just before the first stage's output. A fingerprint with no stage output beside
it (a run that failed before producing anything) binds nothing and is replaced; once an output exists, a
rerun with other inputs or flags is refused, naming each difference.
"""

from __future__ import annotations

import glob
import os

from cmir_tf import errors
from cmir_tf.data.atomic import write_json
from cmir_tf.data.checksum import sha256_file
from cmir_tf.data.prepared import PreparedFolder, read_json


class OtherRecipeError(errors.UsageError, ValueError):
    """The output directory holds data prepared from other inputs or flags."""


def fingerprint(melon_dir: str, playlist_files: tuple[str, ...], flags: dict) -> dict:
    """{"inputs": {file name: sha256} of the Melon JSON inputs used (those present), "flags": `flags`}."""
    names = ("song_meta.json", "genre_gn_all.json", *playlist_files)
    paths = {name: os.path.join(melon_dir, name) for name in names}
    return {
        "inputs": {name: sha256_file(path) for name, path in paths.items() if os.path.exists(path)},
        "flags": flags,
    }


def differences(previous: dict, current: dict) -> list[str]:
    """`"flags.frames: 600 -> 500"`-style lines for every entry that differs (`absent` where missing)."""
    lines = []
    for section in sorted(set(previous) | set(current)):
        old, new = previous.get(section, {}), current.get(section, {})
        if not isinstance(old, dict) or not isinstance(new, dict):
            old, new = {"": old}, {"": new}
        for key in sorted(set(old) | set(new)):
            before, after = old.get(key, "absent"), new.get(key, "absent")
            if before != after:
                if section == "inputs":
                    before, after = (v[:12] if v != "absent" else v for v in (before, after))
                lines.append(f"{section}.{key}: {before} -> {after}")
    return lines


def has_output(output_dir: str) -> bool:
    """Whether any stage has written its output to `output_dir`."""
    return any(glob.glob(pattern) for pattern in PreparedFolder(output_dir).stage_outputs())


def check(output_dir: str, current: dict) -> None:
    """Raises `OtherRecipeError` when `output_dir` holds output of another fingerprint."""
    path = PreparedFolder(output_dir).recipe_path
    if not os.path.exists(path) or not has_output(output_dir):
        return
    previous = read_json(path)
    changed = differences(previous, current)
    if changed:
        raise OtherRecipeError(
            f"{output_dir} was prepared from other inputs or flags ({'; '.join(changed)}); "
            "use a new --output_dir, or rerun with the flags it was prepared with"
        )


def write(output_dir: str, current: dict) -> None:
    """Records `current` (called just before a stage writes its output)."""
    write_json(PreparedFolder(output_dir).recipe_path, current)
