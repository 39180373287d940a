"""Running a cmir-tf command in-process as its console script would: its flags declared (and removed again
afterwards), parsed, its main run under `cmir_tf.cli.runner`'s one failure rule; the exit status returned."""

import contextlib
import copy
import importlib

from absl import flags

from cmir_tf import cli
from cmir_tf.cli import runner

FLAGS = flags.FLAGS


@contextlib.contextmanager
def cli_flags(define):
    """The flags `define()` declares, for one in-process CLI run: cmir_tf flags other tests declared are
    removed first, and the whole flag registry is restored afterwards, the values of absl's own flags
    (`--verbosity`, ...) included."""
    values = {name: (FLAGS[name].value, FLAGS[name].present, FLAGS[name].using_default_value) for name in FLAGS}
    saved = {key: copy.copy(value) for key, value in FLAGS.__dict__.items()}
    by_module = FLAGS.__dict__["__flags_by_module"]
    saved["__flags_by_module"] = {module: list(found) for module, found in by_module.items()}
    for module, found in list(by_module.items()):
        if module.startswith("cmir_tf"):
            for flag in list(found):  # a copy: delattr removes the flag from `found` too
                if flag.name in FLAGS:
                    delattr(FLAGS, flag.name)
    define()
    try:
        yield
    finally:
        FLAGS.__dict__.clear()
        FLAGS.__dict__.update(saved)
        for name, (value, present, using_default) in values.items():
            flag = FLAGS[name]
            flag.value, flag.present, flag.using_default_value = value, present, using_default


def run_cli(define, main, argv: list[str], program: str = "prog") -> int:
    """Exit status of `main` on `argv` (after the program name): flags parsed and failures mapped by
    `cmir_tf.cli.runner` as the console script does (0 for a main returning None)."""
    with cli_flags(define):
        try:
            remaining = runner.parse_command_line(main, program, [program, *argv])
            status = runner.call_main(main, program, remaining)
        except SystemExit as stop:
            status = stop.code
    return status or 0


def run_command(name: str, *argv: str) -> int:
    """`cmir-NAME ARGV...` in-process (a `cli.COMMANDS` key); its exit status."""
    module = importlib.import_module(cli.COMMANDS[name].module)
    return run_cli(module.define_flags, module.main, list(argv), f"cmir-{name}")
