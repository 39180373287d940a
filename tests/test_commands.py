"""The commands: one table behind the console scripts and `python -m cmir_tf`, each command's own `--help`, bad
flags and unexpected arguments exit 2 with one line, the paper flagfiles ship in the package."""

import configparser
import filecmp
import glob
import importlib
import os
import subprocess
import sys

import pytest
from absl import flags

from cmir_tf import cli, flagfiles
from cmir_tf.cli import runner
from cmir_tf.cli import scripts as scripts_module
from cmir_tf.flagfiles import __main__ as flagfiles_main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(REPO, "cmir_tf")
# Commands whose modules other branches bring (until they land, their rows are checked by name only).
PRESENT = [name for name, c in cli.COMMANDS.items() if os.path.exists(os.path.join(REPO, *c.module.split(".")) + ".py")]
FLAG_ONLY = [name for name in PRESENT if name not in ("embed", "search", "pretrained")]  # the others take positionals


def test_console_scripts_are_the_command_table():
    config = configparser.ConfigParser()
    config.read(os.path.join(REPO, "setup.cfg"))
    scripts = dict(line.split(" = ") for line in config["options.entry_points"]["console_scripts"].split("\n") if line)
    assert scripts == {f"cmir-{name}": f"cmir_tf.cli.scripts:{name.replace('-', '_')}" for name in cli.COMMANDS}
    for target in scripts.values():
        assert callable(getattr(scripts_module, target.split(":")[1]))
    assert {"prepare", "embed", "search", "corpus", "export", "from-torch", "to-litert", "ablation"} <= set(PRESENT)


@pytest.fixture
def command_main(monkeypatch):
    """Declares a command's flags through its console entry and returns its absl main (not run); the flags
    are removed again afterwards, so that every command can be checked in one process."""
    registry = flags.FLAGS
    before, was_parsed = set(registry), registry.is_parsed()

    def declare(name: str):
        captured = {}
        monkeypatch.setattr(runner, "run_main", lambda main, program: captured.update(main=main))
        importlib.import_module(cli.COMMANDS[name].module).run()
        return captured["main"]

    yield declare
    for name in set(registry) - before:
        delattr(registry, name)
    registry.unparse_flags()
    if was_parsed:
        registry.mark_as_parsed()


@pytest.mark.parametrize("name", PRESENT)
def test_help_shows_the_commands_own_description_and_flags(name, command_main, capsys):
    main = command_main(name)
    program = f"cmir-{name}"
    with pytest.raises(SystemExit) as exit_:
        runner.parse_command_line(main, program, [program, "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    module = sys.modules[main.__module__]
    assert text.startswith(module.__doc__.strip().splitlines()[0]) and f"flags of {program}:" in text
    own = flags.FLAGS.get_flags_for_module(module.__name__)
    assert own and all(f"--{flag.name}:" in text or f"--[no]{flag.name}:" in text for flag in own)
    assert "--alsologtostderr" not in text and "Try --helpfull" not in text  # not absl's dump


@pytest.mark.parametrize("name", PRESENT)
def test_a_bad_flag_exits_2_with_one_line(name, command_main, capsys):
    main = command_main(name)
    with pytest.raises(SystemExit) as exit_:
        runner.parse_command_line(main, f"cmir-{name}", [f"cmir-{name}", "--no_such_flag=1"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines() == [f"cmir-{name}: error: Unknown command line flag 'no_such_flag'"]


@pytest.mark.parametrize("name", FLAG_ONLY)
def test_an_unexpected_argument_exits_2_with_one_line(name, command_main, capsys):
    main = command_main(name)
    with pytest.raises(SystemExit) as exit_:
        runner.call_main(main, f"cmir-{name}", [f"cmir-{name}", "stray"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.splitlines() == [f"cmir-{name}: error: unexpected arguments: stray"]


def _command(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")])}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return subprocess.run([sys.executable, "-m", "cmir_tf", *args], capture_output=True, text=True, env=env,
                          timeout=600, cwd="/")


def test_python_m_cmir_tf_runs_a_command_with_its_help_and_exit_status():
    listing = _command()
    assert listing.returncode == 2 and "cmir_tf: error: give a command" in listing.stderr
    assert all(name in listing.stderr for name in cli.COMMANDS)
    helped = _command("search", "--help")  # absl printed only "USAGE ... Try --helpfull" for cmir-search
    assert helped.returncode == 0 and "--top_k" in helped.stdout and "--n_trees" in helped.stdout, helped.stderr
    bad = _command("from-torch", "--variant=nope", "--checkpoint=x", "--output=y")  # exited 1 before
    assert bad.returncode == 2 and bad.stderr.splitlines() == [
        "cmir-from-torch: error: flag --variant=nope: value should be one of "
        "<contr_g|contr_cf|contr_cf_g|bline_g|bline_cf|bline_cf_g>"], bad.stderr


@pytest.mark.parametrize("root_file", sorted(glob.glob(os.path.join(REPO, "*.flags"))))
def test_every_root_flagfile_ships_identical_in_the_package(root_file):
    name = os.path.basename(root_file)[: -len(".flags")]
    assert filecmp.cmp(root_file, flagfiles.path(name), shallow=False)


def test_the_six_paper_flagfiles_are_packaged_and_named_by_python_m(capsys):
    assert {"contrg", "contrcf", "contrcf_g", "blineg", "blinecf", "blinecf_g"} <= set(flagfiles.names())
    assert flagfiles_main.main(["cmir_tf.flagfiles", "contrcf_g"]) == 0
    path = capsys.readouterr().out.strip()
    assert path == os.path.join(PACKAGE, "flagfiles", "contrcf_g.flags") and "--variant=contr_cf_g" in open(path).read()
    assert flagfiles_main.main(["cmir_tf.flagfiles", "contrcf-g"]) == 2
    assert "choose one of artistpos, blinecf, blinecf_g, blineg, contrcf" in capsys.readouterr().err
