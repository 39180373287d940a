"""The audio files of file and folder arguments (`cmir-embed`, `cmir-search index`), each with its output name.

A file argument `a/song.mp3` gives the output name `song.mp3.npz`; a folder argument `a/music` gives
`music/<path below a/music>.npz` for every audio file below it (by extension: `AUDIO_EXTENSIONS`, what the
decoders read), following symlinked subfolders (a link back into a folder already walked is skipped and
counted). Files below a folder with another extension are skipped and counted by extension. A file reached
twice (given as a file and inside a folder given too, or twice) is taken once, the first time.
"""

from __future__ import annotations

import collections
import dataclasses
import os
from collections.abc import Iterable

from cmir_tf import errors
from cmir_tf.audio.decode import AUDIO_EXTENSIONS


class InputsError(errors.UsageError, ValueError):
    """Several inputs that would write the same output."""


@dataclasses.dataclass
class Inputs:
    """What `find_inputs` found: (audio file, output name relative to the output folder) pairs; the folders
    not walked again because a symlink leads back into a folder already walked (a loop or a second path to the
    same folder); the files below the folders skipped for their extension, counted by extension ("" for none);
    the files reached more than once (taken the first time)."""

    files: list[tuple[str, str]]
    skipped_folders: list[str] = dataclasses.field(default_factory=list)
    skipped_extensions: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    duplicates: list[str] = dataclasses.field(default_factory=list)

    @property
    def skipped_unknown(self) -> int:
        """Files below the folders skipped for their extension."""
        return sum(self.skipped_extensions.values())

    def skipped_line(self) -> str:
        """`N files skipped for their extension (.txt 3, .jpg 1)`, most frequent first."""
        counts = ", ".join(f"{ext or '(none)'} {n}" for ext, n in self.skipped_extensions.most_common())
        return f"{self.skipped_unknown} files skipped for their extension" + (f" ({counts})" if counts else "")


def _walk(folder: str) -> tuple[list[str], list[str], collections.Counter]:
    """Audio files below `folder` (sorted, hidden names skipped, symlinked folders followed), the folders
    skipped because their real path was already walked, and the other files counted by extension."""
    found, skipped, seen, unknown = [], [], set(), collections.Counter()
    pending = [folder]
    while pending:
        current = pending.pop()
        real = os.path.realpath(current)
        if real in seen:
            skipped.append(current)
            continue
        seen.add(real)
        entries = sorted(e for e in os.listdir(current) if not e.startswith("."))
        folders = [os.path.join(current, e) for e in entries if os.path.isdir(os.path.join(current, e))]
        files = [e for e in entries if not os.path.isdir(os.path.join(current, e))]
        found += [os.path.join(current, e) for e in files if e.lower().endswith(AUDIO_EXTENSIONS)]
        unknown.update(os.path.splitext(e)[1].lower() for e in files if not e.lower().endswith(AUDIO_EXTENSIONS))
        pending += reversed(folders)
    return sorted(found), skipped, unknown


def find_inputs(paths: Iterable[str]) -> Inputs:
    """The inputs of the file and folder arguments `paths` (module docstring), in sorted order below each
    folder. Raises `InputsError` for a missing path or for two files that would write the same output."""
    inputs, seen = Inputs([]), set()

    def add(source: str, name: str) -> None:
        real = os.path.realpath(source)
        if real in seen:
            inputs.duplicates.append(source)
        else:
            seen.add(real)
            inputs.files.append((source, name))

    for path in paths:
        if os.path.isfile(path):
            add(path, os.path.basename(path) + ".npz")
        elif os.path.isdir(path):
            top = os.path.basename(os.path.abspath(path))
            files, skipped, unknown = _walk(path)
            for source in files:
                add(source, os.path.join(top, os.path.relpath(source, path)) + ".npz")
            inputs.skipped_folders += skipped
            inputs.skipped_extensions += unknown
        else:
            raise errors.missing_path(path, "an input")
    clashes = sorted(name for name, count in collections.Counter(name for _, name in inputs.files).items() if count > 1)
    if clashes:
        raise InputsError(f"several inputs would write the same outputs: {clashes[:5]}")
    return inputs
