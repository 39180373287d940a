"""Holds `cmir_tf.data.lock.exclusive_lock(DIR)` until its stdin closes or gets a line.

    python tests/hold_lock.py DIR

Prints "locked" once the lock is held, so a test reads that line instead of sleeping: the second writer it
then starts meets a held lock whatever the machine's speed.
"""

import importlib.util
import os
import sys

# lock.py alone, not the cmir_tf package (which loads TensorFlow): the holder is ready in a fraction of a second.
_SPEC = importlib.util.spec_from_file_location(
    "lock", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cmir_tf", "data", "lock.py"))
lock = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(lock)


def main() -> None:
    with lock.exclusive_lock(sys.argv[1], "test holder"):
        print("locked", flush=True)
        sys.stdin.readline()


if __name__ == "__main__":
    main()
