"""Runs a cmir-tf command as if DIR were on a read-only file system (no mount, so no root needed):

    python tests/read_only_dir.py DIR MODULE|SCRIPT.py [flags...]

Every `os.makedirs`, `os.open` and `open(..., "w"/"a"/"x")` of a path inside DIR raises
`OSError(EROFS)`, as the kernel does there; everything else is untouched.
"""

import builtins
import errno
import os
import runpy
import sys


def main() -> None:
    root, target, args = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3:]

    def inside(path) -> bool:
        path = os.path.abspath(os.fspath(path))
        return path == root or path.startswith(root + os.sep)

    def refuse(path):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))

    makedirs, os_open, builtin_open = os.makedirs, os.open, builtins.open

    def guarded_makedirs(path, *a, **k):
        if inside(path) and not os.path.isdir(path):
            refuse(path)
        return makedirs(path, *a, **k)

    def guarded_os_open(path, flags, *a, **k):
        if inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            refuse(path)
        return os_open(path, flags, *a, **k)

    def guarded_open(file, mode="r", *a, **k):
        if isinstance(file, (str, bytes, os.PathLike)) and inside(file) and set(mode) & set("wax+"):
            refuse(file)
        return builtin_open(file, mode, *a, **k)

    os.makedirs, os.open, builtins.open = guarded_makedirs, guarded_os_open, guarded_open
    sys.argv = [target, *args]
    if target.endswith(".py"):
        runpy.run_path(target, run_name="__main__")
    else:
        runpy.run_module(target, run_name="__main__")


if __name__ == "__main__":
    main()
