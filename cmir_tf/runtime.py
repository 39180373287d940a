"""Process defaults of the cmir-tf commands, applied before TensorFlow loads: fast CPU kernels, quiet logs.

These are policies of a program, not of the library: importing `cmir_tf` (or any library module of it) applies
none of them, so a script that imports cmir-tf keeps TensorFlow's own defaults. Every command calls
`configure()` first, before anything imports TensorFlow: the console scripts and `python -m cmir_tf COMMAND`
through `cmir_tf.cli.start`, the top-level scripts (`train.py`, `evaluate.py`, `export/*.py`) and the
benchmarks in their first lines. `configure()` sets only what the user left unset:

- `TF_ENABLE_ONEDNN_OPTS=1` on x86: TensorFlow turns its oneDNN kernels on by default only on CPUs with
  AVX-512-class features, yet they also double float32 matmul throughput on AVX2-only CPUs.
- quiet logs, unless the command line asks for `--verbosity=N` / `-v N` with N >= 1 (absl's flag):
  - TensorFlow's C++ log lines (`I0000`/`W0000`/`E0000 ...`: CUDA probing, CPU-feature notices) through
    `TF_CPP_MIN_LOG_LEVEL=3`, gRPC's through `GRPC_VERBOSITY=ERROR`; both are read once, when TensorFlow's
    C++ runtime loads, so they must be set before `import tensorflow`;
  - the lines TensorFlow's libraries print while loading, before absl::InitializeLog(), whatever the level
    ("oneDNN custom operations are on", "Could not find cuda drivers"): TensorFlow is imported here with
    those lines filtered out of file descriptor 2;
  - INFO and WARNING records of TensorFlow's and Keras' Python code ("Sharding callback duration", signature
    input renaming, "triggered tf.function retracing"): the `tensorflow` logger is raised to ERROR and absl's
    logger drops them by source file. cmir-tf's own absl INFO lines, one per stage, and progress bars stay;
  - gensim's INFO records (a line per word2vec epoch and lifecycle event) and openTSNE's (the map of
    `cmir-explore`): their loggers are raised to WARNING.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import platform
import re
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence

from absl import logging as absl_logging

X86_MACHINES = ("x86_64", "amd64", "i386", "i686")
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR"}
# Packages whose INFO and WARNING records are detail, hidden by default.
FRAMEWORK_PACKAGES = ("tensorflow", "keras", "tensorboard")
# What TensorFlow's libraries print while loading: absl's notice and its INFO/WARNING lines (ERRORs pass).
LOAD_TIME_NOISE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IW]0000 00:00:)")


def requested_verbosity(argv: Sequence[str]) -> int:
    """absl's `--verbosity` / `-v` value on a command line (`--verbosity=1`, `--verbosity 1`, `-v=1`, `-v 1`);
    0 when absent or not an integer. A flagfile's `--verbosity` is not seen: TensorFlow loads before flags are
    parsed."""
    for i, arg in enumerate(argv):
        name, equals, value = arg.partition("=")
        if name not in ("--verbosity", "-v", "--v"):
            continue
        if not equals and i + 1 < len(argv):
            value = argv[i + 1]
        try:
            return int(value)
        except ValueError:
            return 0
    return 0


def configure(argv: Sequence[str] | None = None, environ: dict | None = None) -> None:
    """Applies the module docstring's defaults to `environ` (default `os.environ`) for the command line `argv`
    (default `sys.argv`). Call before TensorFlow is imported; a later call changes only the Python loggers, and
    installs the log filter once however often it is called."""
    argv = sys.argv if argv is None else argv
    environ = os.environ if environ is None else environ
    if platform.machine().lower() in X86_MACHINES:
        environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    if requested_verbosity(argv) >= 1:
        return
    for name, value in QUIET_ENVIRONMENT.items():
        environ.setdefault(name, value)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    for name in ("gensim", "openTSNE"):
        logging.getLogger(name).setLevel(logging.WARNING)
    absl_logger = absl_logging.get_absl_logger()
    if not any(isinstance(f, FrameworkDetailFilter) for f in absl_logger.filters):
        absl_logger.addFilter(FrameworkDetailFilter())
    load_tensorflow(environ)


def load_tensorflow(environ: dict | None = None) -> None:
    """Imports TensorFlow, without its load-time lines when `environ` (default `os.environ`) asks for quiet C++
    logs (`TF_CPP_MIN_LOG_LEVEL=3`, as `configure()` sets it and child processes inherit it)."""
    environ = os.environ if environ is None else environ
    if "tensorflow" in sys.modules:
        return
    quiet = environ.get("TF_CPP_MIN_LOG_LEVEL") == "3"
    with fd2_lines_dropped(LOAD_TIME_NOISE) if quiet else contextlib.nullcontext():
        import tensorflow  # noqa: F401


class FrameworkDetailFilter(logging.Filter):
    """Drops records below ERROR logged from inside `FRAMEWORK_PACKAGES` (absl's logger serves both cmir-tf's
    stage lines and TensorFlow's detail, so the source file tells them apart)."""

    def __init__(self):
        super().__init__()
        specs = (importlib.util.find_spec(name) for name in FRAMEWORK_PACKAGES)
        self.roots = tuple(os.path.join(path, "") for spec in specs if spec and spec.submodule_search_locations
                           for path in spec.submodule_search_locations)

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.ERROR or not record.pathname.startswith(self.roots)


_FD2_LOCK = threading.Lock()  # one redirect of file descriptor 2 at a time


@contextlib.contextmanager
def fd2_lines_dropped(noise: re.Pattern) -> Iterator[None]:
    """Sends file descriptor 2 to a temporary file for the block, then copies it to stderr without the lines
    `noise` matches (C and C++ code write to the descriptor, not to Python's `sys.stderr`). One redirect at a
    time: another thread's output meanwhile is delayed, not lost. Used for TensorFlow's load-time lines
    (`LOAD_TIME_NOISE`) and libmpg123's chatter (`cmir_tf.audio.decode`)."""
    with _FD2_LOCK, tempfile.TemporaryFile(mode="w+b") as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            lines = captured.read().decode(errors="replace").splitlines(keepends=True)
            kept = "".join(line for line in lines if not noise.match(line))
            if kept:
                sys.stderr.write(kept)
                sys.stderr.flush()
