"""cmir_tf.runtime: oneDNN on x86 unless set, quiet TensorFlow by default, `--verbosity=1` brings the detail back;
every entry point applies it before TensorFlow loads."""

import ast
import glob
import logging
import os
import platform
import re
import subprocess
import sys
import types

import pytest

from cmir_tf import runtime

# TensorFlow's C++ log lines: before absl::InitializeLog() "I0000 00:00:...", after it "I1125 19:02:42.88 123 x.cc:45]".
TF_LOG_LINE = re.compile(r"^[IWEF](0000 |\d{4} .*\.cc:\d+\])", re.MULTILINE)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
X86 = platform.machine().lower() in runtime.X86_MACHINES


@pytest.fixture
def restored_loggers():
    tf_logger, absl_logger, gensim_logger = (logging.getLogger(n) for n in ("tensorflow", "absl", "gensim"))
    levels, filters = (tf_logger.level, gensim_logger.level), list(absl_logger.filters)
    yield
    tf_logger.setLevel(levels[0])
    gensim_logger.setLevel(levels[1])
    absl_logger.filters[:] = filters


@pytest.mark.parametrize("argv, expected", [
    ([], 0), (["--verbosity=1"], 1), (["--verbosity", "2"], 2), (["-v", "1"], 1), (["-v=-1"], -1),
    (["--flag=x", "-v"], 0), (["--verbosity=high"], 0), (["--verbosityx=3"], 0),
])
def test_requested_verbosity(argv, expected):
    assert runtime.requested_verbosity(["prog", *argv]) == expected


def test_configure_sets_only_what_the_user_left_unset(restored_loggers):
    environ = {}
    runtime.configure(["prog"], environ)
    assert environ.get("TF_ENABLE_ONEDNN_OPTS") == ("1" if X86 else None)
    assert environ["TF_CPP_MIN_LOG_LEVEL"] == "3" and logging.getLogger("tensorflow").level == logging.ERROR
    assert logging.getLogger("gensim").level == logging.WARNING
    user = {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_CPP_MIN_LOG_LEVEL": "1"}
    runtime.configure(["prog"], user)
    assert user["TF_ENABLE_ONEDNN_OPTS"] == "0" and user["TF_CPP_MIN_LOG_LEVEL"] == "1"
    verbose = {}
    runtime.configure(["prog", "--verbosity=1"], verbose)
    assert "TF_CPP_MIN_LOG_LEVEL" not in verbose and "GRPC_VERBOSITY" not in verbose


def test_framework_detail_filter_keeps_cmir_tf_lines_and_framework_errors():
    import tensorflow as tf

    keep = runtime.FrameworkDetailFilter().filter
    tf_file = os.path.join(os.path.dirname(tf.__file__), "python", "saved_model", "save.py")

    def record(level: int, path: str) -> logging.LogRecord:
        return logging.LogRecord("absl", level, path, 1, "message", None, None)

    assert not keep(record(logging.INFO, tf_file)) and not keep(record(logging.WARNING, tf_file))
    assert keep(record(logging.ERROR, tf_file)) and keep(record(logging.INFO, runtime.__file__))


def _prepare(demo_corpus: str, output_dir: str, *flags: str) -> str:
    env = {name: value for name, value in os.environ.items()
           if name not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "GRPC_VERBOSITY")}
    result = subprocess.run(
        [sys.executable, "-m", "cmir_tf", "prepare", f"--melon_dir={os.path.join(demo_corpus, 'melon')}",
         f"--output_dir={output_dir}", "--word2vec_dim=16", "--songs_per_shard=50", "--cf_threads=1", *flags],
        env=env, capture_output=True, text=True, timeout=600, check=True)
    return result.stdout + result.stderr


def test_a_cli_is_quiet_by_default_and_verbose_on_request(demo_corpus, tmp_path):
    quiet = _prepare(demo_corpus, str(tmp_path / "quiet"))
    assert not TF_LOG_LINE.search(quiet), quiet
    assert "InitializeLog" not in quiet and "retracing" not in quiet
    assert "word2vec" not in quiet  # gensim's INFO line per epoch
    assert "records per split" in quiet  # the CLI's own one line per stage stays
    verbose = _prepare(demo_corpus, str(tmp_path / "verbose"), "--verbosity=1")
    assert TF_LOG_LINE.search(verbose) and "word2vec" in verbose, verbose
    if X86:  # TensorFlow's own notice: the child process ran with oneDNN on, which its default is not on AVX2
        assert "oneDNN custom operations are on" in verbose


def test_render_workers_of_a_quiet_command_are_quiet(tmp_path):
    """`cmir-corpus` renders in spawned processes; each loads TensorFlow for the mels, without its load-time lines."""
    env = {name: value for name, value in os.environ.items() if name not in ("TF_CPP_MIN_LOG_LEVEL", "GRPC_VERBOSITY")}
    result = subprocess.run(
        [sys.executable, "-m", "cmir_tf", "corpus", f"--output_dir={tmp_path / 'corpus'}", "--workers=2",
         "--melon_songs=4", "--melon_playlists=2", "--min_frames=256", "--max_frames=260", "--gtzan_per_genre=1",
         "--gtzan_seconds=1", "--jamendo_tracks=2", "--jamendo_seconds=1"],
        env=env, capture_output=True, text=True, timeout=600, check=True)
    assert not TF_LOG_LINE.search(result.stderr) and "InitializeLog" not in result.stderr, result.stderr
    assert len(glob.glob(str(tmp_path / "corpus" / "melon" / "arena_mel" / "*" / "*.npy"))) == 4


# Imports that may come before the policy: they load no framework.
LIGHT_IMPORTS = ("__future__", "cmir_tf", "cmir_tf.runtime", "cmir_tf.cli", "cmir_tf.cli.runner", "os", "sys")


def _applies_the_policy_first(path: str) -> bool:
    """Whether the script's top level calls `runtime.configure()`, or hands over to `cli.start(...)`, before
    any statement that could load TensorFlow (an import other than `LIGHT_IMPORTS`)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        code = ast.unparse(node)
        if isinstance(node, ast.Expr) and code.startswith("runtime.configure("):
            return True
        if isinstance(node, ast.If) and code.startswith("if __name__ == '__main__':\n    cli.start("):
            return True
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module] if node.module != "cmir_tf" else [f"cmir_tf.{a.name}" for a in node.names]
        else:
            modules = []
        if any(m not in LIGHT_IMPORTS for m in modules):
            return False
    return False


@pytest.mark.parametrize("script", ["train.py", "evaluate.py", *glob.glob("export/*.py", root_dir=REPO),
                                    *glob.glob("benchmarks/bench_*.py", root_dir=REPO)])
def test_every_entry_point_applies_the_policy_before_tensorflow_loads(script):
    assert _applies_the_policy_first(os.path.join(REPO, script))


def test_commands_start_applies_the_policy_before_importing_the_command(monkeypatch):
    from cmir_tf import cli

    calls = []
    monkeypatch.setattr(runtime, "configure", lambda argv: calls.append("configure"))
    module = types.SimpleNamespace(run=lambda: calls.append("run"))
    monkeypatch.setattr(cli, "importlib", types.SimpleNamespace(import_module=lambda name: calls.append(name) or module))
    cli.start("embed")
    assert calls == ["configure", "cmir_tf.cli.embed", "run"]
