"""One error model for the whole package: every domain exception derives from `CmirError` through one of two
branches, and the command layer (`cmir_tf.cli.runner`) maps them to one line and one exit status.

- `UsageError` (exit status 2): what the user must change before trying again: a flag, an argument, another
  model or front-end recipe, a locked directory, a prepared folder made with another recipe.
- `InputError` (exit status 1): an input that failed at run time: an undecodable audio file, missing dataset
  files, a damaged prepared folder, a full or read-only disk, a path that cannot be read.

The specific exception names stay (users catch them); most also keep the built-in base they had before
(`ValueError`, `FileNotFoundError`, `OSError`, ...), so that older `except` clauses still match. OS errors on a
user's path become `InputError`s where they are raised (`input_error_from_os`), naming the path.

This module imports nothing of TensorFlow and changes nothing in the process.
"""

from __future__ import annotations

import errno
import os
import tempfile

USAGE_EXIT = 2  # bad flags or usage, or an input the user must change
INPUT_EXIT = 1  # an input failed at run time
INTERRUPT_EXIT = 130  # Ctrl-C (128 + SIGINT), the shells' convention


class CmirError(Exception):
    """The root of cmir-tf's exceptions; `exit_status` is the status a command ends with."""

    exit_status = INPUT_EXIT


class UsageError(CmirError):
    """Something the user must change: a flag, an argument, another model, recipe or directory (exit 2)."""

    exit_status = USAGE_EXIT


class InputError(CmirError):
    """An input that failed at run time: a file, a dataset, a folder or a disk (exit 1)."""

    exit_status = INPUT_EXIT


class ConfigError(UsageError, ValueError):
    """A setting out of its range or at odds with another, or with the data it is used on (exit 2)."""


class DatasetError(InputError, ValueError):
    """A dataset or list file whose content is not what its format says, or holds too little to use (exit 1)."""


class OutputExistsError(UsageError, FileExistsError):
    """An output that exists already, and replacing it was not asked for (`--overwrite`)."""


class PathError(InputError, OSError):
    """An OS error on a user's path (permission, read-only file system, no space, missing file), naming it."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


class MissingPathError(PathError, FileNotFoundError):
    """A file or folder the user named does not exist."""


def missing_path(path: str | os.PathLike | None, what: str, reason: str = "no such file or directory"
                 ) -> MissingPathError:
    """The `MissingPathError` for `path`, named as `what` (e.g. "--model"): `WHAT=PATH: reason`."""
    named = os.fspath(path) if path else ""
    error = MissingPathError(errno.ENOENT, f"{what}={named}: {reason}")
    error.filename = named or None
    return error


def require_path(path: str | os.PathLike | None, what: str) -> str:
    """`path` when it exists; `missing_path(path, what)` raised otherwise."""
    if not path or not os.path.exists(path):
        raise missing_path(path, what)
    return os.fspath(path)


def require_writable_dir(path: str | os.PathLike, what: str) -> str:
    """Creates folder `path` if needed and checks that a file can be created in it (before long work whose
    results go there); `PathError` naming it and `what` it is (e.g. "--results_dir") otherwise."""
    path = os.fspath(path)
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        raise input_error_from_os(error, path, f"write {what}") from error
    return path


def describe_os_error(error: OSError, path: str | os.PathLike | None = None) -> str:
    """`PATH: reason` for an OS error, the path taken from the error when not given."""
    named = path if path is not None else (error.filename or "")
    reason = error.strerror or str(error)
    return f"{os.fspath(named)}: {reason}" if named else reason


def input_error_from_os(error: OSError, path: str | os.PathLike | None = None,
                        action: str | None = None) -> PathError:
    """The `PathError` for an OS error on a user's path: `cannot ACTION PATH: reason` (or `PATH: reason`)."""
    text = describe_os_error(error, path)
    wrapped = PathError(error.errno, f"cannot {action} {text}" if action else text)
    wrapped.filename = os.fspath(path) if path is not None else error.filename
    return wrapped


def exit_status(error: BaseException) -> int | None:
    """The exit status a command ends with for `error`: 2 or 1 for `CmirError`s, 1 for other OS errors, 130 for
    Ctrl-C; None for anything else (a defect of cmir-tf, reported with its traceback)."""
    if isinstance(error, KeyboardInterrupt):
        return INTERRUPT_EXIT
    if isinstance(error, CmirError):
        return error.exit_status
    if isinstance(error, OSError):
        return INPUT_EXIT
    return None
