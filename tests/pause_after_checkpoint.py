"""Runs train.py, but blocks for good once its latest-checkpoint manager has saved ckpt-N in full.

    python tests/pause_after_checkpoint.py N MARKER_FILE [train.py flags...]

`CheckpointManager.save` returns only after the checkpoint's data and index files are complete and the
`checkpoint` state file names it, so when MARKER_FILE appears the process is waiting outside any write:
a SIGKILL then cannot land in a half-written checkpoint, whatever the machine's speed.
"""

import os
import runpy
import signal
import sys

import tensorflow as tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    stop_at, marker, train_flags = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    save = tf.train.CheckpointManager.save

    def save_then_block(manager, *args, **kwargs):
        path = save(manager, *args, **kwargs)
        if os.path.basename(os.path.dirname(path)) == "checkpoints" and path.endswith(f"ckpt-{stop_at}"):
            with open(marker, "w") as f:
                f.write(path)
            while True:
                signal.pause()  # until the test's SIGKILL
        return path

    tf.train.CheckpointManager.save = save_then_block
    sys.argv = [os.path.join(ROOT, "train.py"), *train_flags]
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
