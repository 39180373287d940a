"""All-or-nothing file writes: write under a temporary name in the same folder, then `os.replace`."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
from collections.abc import Iterator
from typing import Any

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yields a temporary path next to `path`; renames it to `path` only if the block succeeds."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def describe_write_error(error: OSError) -> str:
    """One line naming the file that could not be written and why ("cannot write PATH: No space left on
    device"), the temporary name of `atomic_path` mapped back to the file it stands for."""
    path = re.sub(r"\.tmp-\d+$", "", str(error.filename)) if error.filename else None
    reason = error.strerror or str(error)
    return f"cannot write {path}: {reason}" if path else str(error)


# TensorFlow's file errors by class name (this module imports no TensorFlow), as the OS error they stand for.
_TF_ERRNO = {"ResourceExhaustedError": errno.ENOSPC, "PermissionDeniedError": errno.EACCES}


@contextlib.contextmanager
def tf_write_errors_named(path: str) -> Iterator[None]:
    """Re-raises TensorFlow's write errors in the block (a full disk is `ResourceExhaustedError`, a denied
    folder `PermissionDeniedError`) as the `OSError` they stand for, naming `path`."""
    try:
        yield
    except Exception as error:
        code = _TF_ERRNO.get(type(error).__name__)
        if code is None:
            raise
        raise OSError(code, os.strerror(code), path) from error


def write_json(path: str, obj: Any) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, sort_keys=True)


def write_npy(path: str, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)
