"""One writer per directory: an OS lock (`fcntl.flock`) on `<dir>/.lock`, held while a block runs.

The kernel drops the lock when its holder's file descriptor closes, which includes any death of the process
(SIGKILL too), so no stale lock can outlive a run and nothing has to be cleaned up. The lock file stays (an
empty name with the last holder's pid); removing it while held would let a second process lock a new file.
`flock` locks are per open file: a second `exclusive_lock` on the same folder in the same process fails
like one from another process.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator

from cmir_tf import errors

LOCK_FILE = ".lock"


class DirectoryLockedError(errors.UsageError, RuntimeError):
    """Another process holds the directory's lock (a usage error: exit status 2)."""


@contextlib.contextmanager
def exclusive_lock(path: str, what: str) -> Iterator[None]:
    """Holds the exclusive lock of directory `path` (created if needed) while the block runs.

    Args:
      path: the directory one process at a time may write (a model_dir, a prepared folder, an index).
      what: the kind of writer, for the message (e.g. "train.py", "prepare").

    Raises:
      DirectoryLockedError: another process holds it; the message names its pid.
      OSError: the folder or its lock file cannot be created (read-only or full file system).
    """
    os.makedirs(path, exist_ok=True)
    lock_path = os.path.join(path, LOCK_FILE)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise DirectoryLockedError(
                f"{path} is in use by another {what} (pid {holder}); wait for it to finish, or use another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)
