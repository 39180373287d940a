"""Compares the front end a SavedModel records with the one this package computes (pure functions).

A model only understands log-mels made the way its training mels were made. Every export records
`FRONT_END_PARAMS` (with its version) in `assets/cmir_tf.json`; `cmir_tf.export.exported.ExportedModel`,
through which every consumer opens an export, calls `check_front_end` on it once.
"""

from __future__ import annotations

from cmir_tf import errors
from cmir_tf.audio.mel import FRONT_END_PARAMS

REEXPORT_HINT = (
    "re-export it from its training checkpoint with this version of cmir_tf: "
    "python -m cmir_tf export --checkpoint=RUN/best --variant=VARIANT --data_dir=PREPARED_DIR "
    "--output_dir=NEW_DIR (RUN: the run's --model_dir; PREPARED_DIR: its --data_dir, needed by the variants "
    "with a genre encoder and for the training record; a model trained on mels of another front end must "
    "also be retrained to match this one)"
)


class FrontEndMismatchError(errors.UsageError, ValueError):
    """The model's recorded front end differs from `FRONT_END_PARAMS`."""


def front_end_differences(recorded: object) -> list[str]:
    """`"key: model <old>, here <new>"` for each entry of `FRONT_END_PARAMS` that `recorded` lacks or
    contradicts, and for each entry `recorded` has in excess; empty when they are equal."""
    if not isinstance(recorded, dict):
        return [f"front_end: model {recorded!r}, here version {FRONT_END_PARAMS['version']}"]
    keys = sorted(set(recorded) | set(FRONT_END_PARAMS))
    missing = "(absent)"
    return [
        f"{key}: model {recorded.get(key, missing)!r}, here {FRONT_END_PARAMS.get(key, missing)!r}"
        for key in keys
        if recorded.get(key, missing) != FRONT_END_PARAMS.get(key, missing)
    ]


def check_front_end(recorded: object, model_dir: str) -> None:
    """Raises `FrontEndMismatchError`, naming each difference and how to re-export, when `recorded` (the
    `front_end` entry of the asset of the model in `model_dir`) is not this package's `FRONT_END_PARAMS`."""
    differences = front_end_differences(recorded)
    if differences:
        raise FrontEndMismatchError(
            f"{model_dir} was exported with another front end (log-mel recipe) than this cmir_tf computes "
            f"({'; '.join(differences)}); {REEXPORT_HINT}"
        )
