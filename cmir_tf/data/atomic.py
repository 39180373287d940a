"""All-or-nothing file writes: write under a temporary name in the same folder, then `os.replace`.

The one atomic-write helper of the package (every stage's outputs go through it). The temporary name of
`path` is fixed, `.<name>.partial` next to it (`temporary_path`): readers never see a half-written file, a
failed write removes it and leaves `path` untouched, and a write killed outright (SIGKILL, power loss) leaves
a temporary that the next write of `path` replaces (one writer per output path; directory locks make sure of
that where several processes could meet). Files get the usual permissions (0o666 less the umask).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np

from cmir_tf import errors

TEMPORARY_SUFFIX = ".partial"


def temporary_path(path: str) -> str:
    """`<folder>/.<name>.partial`, where `atomic_path` writes `path` before renaming it."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}{TEMPORARY_SUFFIX}")


def real_path(path: str) -> str:
    """The file a `temporary_path` stands for (`path` itself when it is no temporary name)."""
    folder, name = os.path.split(path)
    if name.startswith(".") and name.endswith(TEMPORARY_SUFFIX):
        return os.path.join(folder, name[1 : -len(TEMPORARY_SUFFIX)])
    return path


@contextlib.contextmanager
def atomic_path(path: str) -> Iterator[str]:
    """Yields the temporary path of `path` (a stale one removed first); renames it to `path` only if the
    block succeeds, and removes it otherwise. An OS error on `path`, its folder or its temporary name (a
    read-only or full disk, a denied folder) is raised as `errors.PathError` naming `path`."""
    tmp = temporary_path(path)
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        if os.path.exists(tmp):  # left by a killed write: start afresh, with the umask's permissions
            os.remove(tmp)
        try:
            yield tmp
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    except OSError as error:
        if isinstance(error, errors.CmirError) or error.filename not in (None, tmp, path, os.path.dirname(path)):
            raise
        raise errors.input_error_from_os(error, path, "write") from error


def atomic_write(path: str, write: Callable[[IO[bytes]], None]) -> None:
    """Calls `write(file)` on the temporary file of `path` opened for binary writing, then renames it."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            write(f)


@contextlib.contextmanager
def write_errors_named() -> Iterator[None]:
    """Re-raises an OS error of the block that is not already cmir-tf's as `errors.PathError` "cannot write
    PATH: reason" (an `InputError`, exit status 1; its errno kept), a temporary name mapped back to its file."""
    try:
        yield
    except OSError as error:
        if isinstance(error, errors.CmirError):
            raise
        path = real_path(str(error.filename)) if error.filename else None
        raise errors.input_error_from_os(error, path, "write") from error


# TensorFlow's file errors by class name (this module imports no TensorFlow), as the OS error they stand for;
# TensorFlow's C++ file system reports a read-only one by its message only.
_TF_ERRNO = {"ResourceExhaustedError": errno.ENOSPC, "PermissionDeniedError": errno.EACCES}
_TF_MESSAGES = {"Read-only file system": errno.EROFS, "No space left on device": errno.ENOSPC,
                "Permission denied": errno.EACCES}


@contextlib.contextmanager
def tf_write_errors_named(path: str) -> Iterator[None]:
    """Re-raises TensorFlow's write errors in the block (a full disk is `ResourceExhaustedError`, a denied
    folder `PermissionDeniedError`, a read-only one only says so) as `errors.PathError`s "cannot write PATH:
    reason" (OSErrors with the errno they stand for)."""
    try:
        yield
    except Exception as error:
        code = _TF_ERRNO.get(type(error).__name__)
        if code is None and type(error).__module__.startswith("tensorflow"):
            code = next((c for text, c in _TF_MESSAGES.items() if text in str(error)), None)
        if code is None:
            raise
        raise errors.input_error_from_os(OSError(code, os.strerror(code), path), path, "write") from error


def write_json(path: str, obj: Any) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=1, sort_keys=True)


def write_npy(path: str, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def write_npz(path: str, **arrays: np.ndarray) -> None:
    """`np.savez` of `arrays` written atomically (`atomic_write`)."""
    atomic_write(path, lambda f: np.savez(f, **arrays))
