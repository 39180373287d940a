"""cmir_tf.runtime: oneDNN on x86 unless set, quiet TensorFlow by default, `--verbosity=1` brings the detail back."""

import ast
import glob
import logging
import os
import platform
import re
import subprocess
import sys

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
        [sys.executable, "-m", "cmir_tf.data.prepare", f"--melon_dir={os.path.join(demo_corpus, 'melon')}",
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


def _imported_modules(path: str) -> list[str]:
    with open(path) as f:
        tree = ast.parse(f.read())
    return [alias.name if isinstance(node, ast.Import) else node.module
            for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
            for alias in (node.names if isinstance(node, ast.Import) else node.names[:1])]


@pytest.mark.parametrize("script", ["train.py", "evaluate.py", *glob.glob("export/*.py", root_dir=REPO),
                                    *glob.glob("benchmarks/*.py", root_dir=REPO)])
def test_every_entry_point_imports_cmir_tf_before_tensorflow(script):
    frameworks = [m for m in _imported_modules(os.path.join(REPO, script))
                  if m and m.split(".")[0] in ("cmir_tf", "tensorflow", "keras")]
    assert frameworks and frameworks[0].split(".")[0] == "cmir_tf", frameworks
