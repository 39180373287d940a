"""The cmir-tf commands: one table, one way to start them.

Every command runs as the console script `cmir-NAME` or as `python -m cmir_tf NAME`; the top-level scripts
(`train.py`, `evaluate.py`, `export/*.py`) are shims over the same code. Each command is one small module of
this package: it declares its flags, builds its stage's config and calls one library function; `runner` gives
all of them the same `--help`, the same one-line errors and the same exit statuses (`cmir_tf.errors`):

    0 success; 1 an input failed at run time; 2 usage, or an input the user must change; 130 Ctrl-C.

No module outside `cmir_tf.cli` reads absl flags or ends the process.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys

from cmir_tf import runtime


@dataclasses.dataclass(frozen=True)
class Command:
    """A command: the module whose `run()` (declares the flags, calls `runner.run_main`) starts it, and what it
    does (one line)."""

    module: str
    summary: str


COMMANDS = {
    "prepare": Command("cmir_tf.cli.prepare", "Melon, or a folder of audio + tracks + playlists -> prepared TFRecords"),
    "train": Command("cmir_tf.cli.train", "trains one variant on a prepared folder, exports its best encoder"),
    "export": Command("cmir_tf.cli.export", "a training checkpoint or Keras weights -> SavedModel"),
    "from-torch": Command("cmir_tf.cli.from_torch", "the authors' PyTorch audio encoder -> SavedModel"),
    "to-litert": Command("cmir_tf.cli.to_litert", "SavedModel -> LiteRT (.tflite) file"),
    "evaluate": Command("cmir_tf.cli.evaluate", "GTZAN, MTG-Jamendo, playlist continuation, zero-shot tables"),
    "ablation": Command("cmir_tf.cli.ablation", "the paper's ablation: every variant trained, evaluated"),
    "embed": Command("cmir_tf.cli.embed", "audio files -> .npz embeddings"),
    "search": Command("cmir_tf.cli.search", "zero-shot genre tags, song index and search in the joint space"),
    "pretrained": Command("cmir_tf.cli.pretrained", "the authors' six released encoders: list, fetch, path"),
    "corpus": Command("cmir_tf.cli.corpus", "writes the synthetic demo corpus (Melon, GTZAN, MTG-Jamendo)"),
    "explore": Command("cmir_tf.cli.explore", "a local web page over an index: map, playback, queries, playlists"),
}


def start(name: str) -> None:
    """Runs command `name` (a `COMMANDS` key) on `sys.argv`: the process policy first, then its module."""
    runtime.configure(sys.argv)
    importlib.import_module(COMMANDS[name].module).run()
