"""Refuses a SavedModel whose recorded front end is not the one this package computes.

A model only understands log-mels made the way its training mels were made. Every export records
`FRONT_END_PARAMS` (with its version) in `assets/cmir_tf.json`; code that computes log-mels itself and
feeds them to a model (`cmir-embed`, evaluate.py) calls `check_front_end` first.
"""

from __future__ import annotations

import json
import os

from cmir_tf.audio.mel import FRONT_END_PARAMS

ASSET_PATH = os.path.join("assets", "cmir_tf.json")
REEXPORT_HINT = (
    "re-export it from its training checkpoint with this version of cmir_tf: "
    "python export/export_savedmodel.py --checkpoint=RUN/best --variant=VARIANT --output_dir=NEW_DIR "
    "[--data_dir=PREPARED_DIR, the run's prepared data: contrastive variants with genres need it] "
    "(a model trained on mels of another front end must also be retrained to match this one)"
)


class FrontEndMismatchError(ValueError):
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


def check_front_end(model_dir: str) -> None:
    """Raises `FrontEndMismatchError`, naming each difference and how to re-export, when the cmir_tf
    SavedModel in `model_dir` records another front end. A SavedModel without the asset (not a cmir_tf
    export) is not checked here."""
    path = os.path.join(model_dir, ASSET_PATH)
    if not os.path.exists(path):
        return
    try:
        with open(path) as f:
            recorded = json.load(f).get("front_end")
    except (OSError, ValueError, AttributeError) as e:
        raise FrontEndMismatchError(f"{path}: unreadable asset ({e}); {REEXPORT_HINT}") from e
    differences = front_end_differences(recorded)
    if differences:
        raise FrontEndMismatchError(
            f"{model_dir} was exported with another front end (log-mel recipe) than this cmir_tf computes "
            f"({'; '.join(differences)}); {REEXPORT_HINT}"
        )
