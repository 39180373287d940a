"""What every command shares: `--help`, flag parsing, and the one place that turns a failure into one line
and an exit status.

`run_main(main, program)` is `absl.app.run(main)` with:

- `--help` (also `-h`, `-?`, `--helpshort`): the command module's docstring and its own flags on stdout,
  exit status 0; `--helpfull` keeps absl's list of every flag;
- every failure reported as one line `PROGRAM: error: ...` on stderr, no traceback, with the exit status
  `cmir_tf.errors.exit_status` gives it: 2 for a bad flag, an unexpected argument, `absl.app.UsageError` and
  `cmir_tf.errors.UsageError`; 1 for `cmir_tf.errors.InputError` and any other OS error; 130 for Ctrl-C
  (`PROGRAM: interrupted`). `--verbosity=1` prints the traceback before the line. Anything else is a defect
  of cmir-tf and keeps its traceback.
"""

from __future__ import annotations

import functools
import inspect
import sys
import traceback
from collections.abc import Callable, Sequence

from absl import app, flags

from cmir_tf import errors

HELP_REQUESTS = ("--help", "-h", "-?", "--helpshort")
COMMON_FLAGS = """\
common flags:
  --flagfile: read flags from a file, one per line (packaged paper flagfiles: python -m cmir_tf.flagfiles)
  --verbosity: 1 shows TensorFlow's and gensim's log lines and the traceback of an error (default 0: one
    line per stage, one line per error)
  --helpfull: every flag, absl's and TensorFlow's included"""


def one_line(error: BaseException | str) -> str:
    """The error's message on one line (its lines joined by "; ")."""
    return "; ".join(line.strip() for line in str(error).splitlines() if line.strip()) or type(error).__name__


def _verbose() -> bool:
    try:
        return flags.FLAGS["verbosity"].value >= 1 and flags.FLAGS.is_parsed()
    except KeyError:
        return False


def fail(program: str, error: BaseException) -> None:
    """Ends the command for `error`: one line on stderr (the traceback first at `--verbosity>=1`) and its exit
    status; an error that is not cmir-tf's nor the OS's is re-raised with its traceback."""
    if isinstance(error, app.UsageError):
        status = errors.USAGE_EXIT
    else:
        status = errors.exit_status(error)
    if status is None:
        raise error
    if _verbose():
        traceback.print_exception(error)
    if isinstance(error, KeyboardInterrupt):
        print(f"{program}: {one_line(error) if str(error) else 'interrupted'}", file=sys.stderr)
    else:
        message = error if isinstance(error, errors.CmirError) or not isinstance(error, OSError) \
            else errors.describe_os_error(error)
        print(f"{program}: error: {one_line(message)}", file=sys.stderr)
    sys.exit(status)


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
        fail(program, app.UsageError(str(error)))


def call_main(main: Callable[[list[str]], int | None], program: str, args: list[str]) -> int | None:
    """`main(args)`, any failure ended by `fail` (one line, its exit status)."""
    try:
        return main(args)
    except (Exception, KeyboardInterrupt) as error:  # noqa: BLE001 - fail() re-raises what is not ours
        fail(program, error)


def run_main(main: Callable[[list[str]], int | None], program: str, argv: Sequence[str] | None = None) -> None:
    """`absl.app.run(main)` with the module docstring's `--help` and the one error rule.

    Args:
      main: the command's absl main, `main(argv)` with the positional arguments (`argv[0]` the program);
        its return value is the exit status.
      program: the name in messages, e.g. `cmir-embed`.
      argv: the command line (default `sys.argv`).
    """
    app.run(functools.partial(call_main, main, program), argv=list(sys.argv if argv is None else argv),
            flags_parser=functools.partial(parse_command_line, main, program))


def no_arguments(argv: Sequence[str]) -> None:
    """Raises `errors.UsageError` when a command that takes only flags got positional arguments."""
    if len(argv) > 1:
        raise errors.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
