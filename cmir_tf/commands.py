"""The cmir-tf commands: one table, one way to start them, one `--help` and one exit-status rule.

Every command runs as the console script `cmir-NAME` or as `python -m cmir_tf NAME`; the top-level scripts
(`train.py`, `evaluate.py`, `export/*.py`) are shims over the same code. `start(NAME)` applies the commands'
process policy (`cmir_tf.runtime.configure`: oneDNN on x86, quiet logs) before the command's module, and so
TensorFlow, is imported, then calls that module's `run()` (`Command.entry`), which declares its flags and hands
its absl `main(argv)` to `run_main`; that gives every command the same behaviour:

- `--help` (also `-h`, `-?`, `--helpshort`) prints the command's module docstring and its own flags on
  stdout, exit status 0; `--helpfull` keeps absl's list of every flag;
- a bad flag, an unexpected argument or any `absl.app.UsageError` prints one line `PROGRAM: error: ...` on
  stderr, exit status 2.

Exit status, every command: 0 success; 1 a runtime failure of an input (an undecodable file, missing dataset
files, a full disk, a read-only path; `input_failure`); 2 bad flags or usage, and an input the user must change
(another model or front-end recipe, a recipe change in a prepared folder, a locked directory). Errors are one
line on stderr, without a traceback.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import sys
from collections.abc import Callable, Sequence

from absl import app, flags

from cmir_tf import runtime

USAGE_ERROR = 2  # bad flags / usage, or an input the user must change
INPUT_FAILURE = 1  # an input failed at run time
HELP_REQUESTS = ("--help", "-h", "-?", "--helpshort")
COMMON_FLAGS = """\
common flags:
  --flagfile: read flags from a file, one per line (packaged paper flagfiles: python -m cmir_tf.flagfiles)
  --verbosity: 1 shows TensorFlow's and gensim's log lines (default 0: one line per stage)
  --helpfull: every flag, absl's and TensorFlow's included"""


@dataclasses.dataclass(frozen=True)
class Command:
    """A command: the module whose function `entry` (declares the flags, calls `run_main`) starts it, and what
    it does (one line)."""

    module: str
    summary: str
    entry: str = "run"


COMMANDS = {
    "prepare": Command("cmir_tf.data.prepare", "Melon files -> prepared TFRecords, genre word2vec, CF vectors"),
    "train": Command("cmir_tf.training.cli", "trains one variant on a prepared folder, exports its best encoder"),
    "export": Command("cmir_tf.export.export_cli", "a training checkpoint or Keras weights -> SavedModel"),
    "from-torch": Command("cmir_tf.export.from_torch_cli", "the authors' PyTorch audio encoder -> SavedModel"),
    "to-litert": Command("cmir_tf.export.to_litert_cli", "SavedModel -> LiteRT (.tflite) file"),
    "evaluate": Command("cmir_tf.evaluation.cli", "GTZAN, MTG-Jamendo, playlist continuation, zero-shot tables"),
    "ablation": Command("cmir_tf.experiments.ablation", "the paper's ablation: every variant trained, evaluated",
                        "run_command"),  # its run() is the library's
    "embed": Command("cmir_tf.export.embed_cli", "audio files -> .npz embeddings"),
    "search": Command("cmir_tf.search_cli", "zero-shot genre tags, song index and search in the joint space"),
    "corpus": Command("cmir_tf.synthetic.corpus", "writes the synthetic demo corpus (Melon, GTZAN, MTG-Jamendo)"),
}


def start(name: str) -> None:
    """Runs command `name` (a `COMMANDS` key) on `sys.argv`: the process policy first, then its module."""
    runtime.configure(sys.argv)
    command = COMMANDS[name]
    getattr(importlib.import_module(command.module), command.entry)()


def _usage_exit(program: str, error: Exception) -> None:
    message = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
    print(f"{program}: error: {message}", file=sys.stderr)
    sys.exit(USAGE_ERROR)


def help_text(main: Callable, program: str) -> str:
    """The `--help` of the command whose absl main is `main`: its module's docstring, then the flags that
    module declares, then the common flags."""
    module = sys.modules[main.__module__]
    # absl files the flags of a module run as __main__ under the program path.
    key = sys.argv[0] if module.__name__ == "__main__" else module.__name__
    rendered = flags.FLAGS.module_help(key).splitlines()  # "<module>:" then the flags
    own = "\n".join(rendered[rendered.index(f"{key}:") + 1:]) if f"{key}:" in rendered else ""
    parts = [inspect.cleandoc(module.__doc__ or f"{program} [flags]")]
    if own:
        parts.append(f"flags of {program}:\n{own}")
    parts.append(COMMON_FLAGS)
    return "\n\n".join(parts)


def parse_command_line(main: Callable, program: str, argv: list[str]) -> list[str]:
    """absl's flag parsing for the command whose absl main is `main`: `--help` prints `help_text` (exit 0), a
    bad flag one line (exit 2); returns the positional arguments, `argv[0]` first."""
    options = argv[1:argv.index("--")] if "--" in argv else argv[1:]
    if any(arg in HELP_REQUESTS for arg in options):
        print(help_text(main, program))
        sys.exit(0)
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        _usage_exit(program, error)


def call_main(main: Callable[[list[str]], int | None], program: str, args: list[str]) -> int | None:
    """`main(args)`, an `absl.app.UsageError` turned into one line and exit status 2."""
    try:
        return main(args)
    except app.UsageError as error:
        _usage_exit(program, error)


def run_main(main: Callable[[list[str]], int | None], program: str, argv: Sequence[str] | None = None) -> None:
    """`absl.app.run(main)` with the module docstring's `--help` and one-line usage errors (exit status 2).

    Args:
      main: the command's absl main, `main(argv)` with the positional arguments (`argv[0]` the program);
        its return value is the exit status.
      program: the name in messages, e.g. `cmir-embed`.
      argv: the command line (default `sys.argv`).
    """
    app.run(functools.partial(call_main, main, program), argv=list(sys.argv if argv is None else argv),
            flags_parser=functools.partial(parse_command_line, main, program))


def input_failure(program: str, error: Exception | str) -> None:
    """Ends the command for an input that failed at run time: one line on stderr, exit status 1."""
    print(f"{program}: error: {error}", file=sys.stderr)
    sys.exit(INPUT_FAILURE)


def no_arguments(argv: Sequence[str]) -> None:
    """Raises `app.UsageError` when a command that takes only flags got positional arguments."""
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")


# The console scripts' targets (setup.cfg): `cmir-NAME = cmir_tf.commands:NAME`, "-" written "_".
prepare = functools.partial(start, "prepare")
train = functools.partial(start, "train")
export = functools.partial(start, "export")
from_torch = functools.partial(start, "from-torch")
to_litert = functools.partial(start, "to-litert")
evaluate = functools.partial(start, "evaluate")
ablation = functools.partial(start, "ablation")
embed = functools.partial(start, "embed")
search = functools.partial(start, "search")
corpus = functools.partial(start, "corpus")
