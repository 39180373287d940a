"""Runs train.py with a fault aimed at its latest-checkpoint manager's ckpt-N (not timed):

    python tests/fault_at_checkpoint.py pause=MARKER N [train.py flags...]  # block for good once ckpt-N is saved
    python tests/fault_at_checkpoint.py sigint N [train.py flags...]        # SIGINT to itself once ckpt-N is saved
    python tests/fault_at_checkpoint.py enospc N [train.py flags...]        # saving ckpt-N fails: disk full

`CheckpointManager.save` returns only after the checkpoint's data and index files are complete and the
`checkpoint` state file names it, so when MARKER appears the process is waiting outside any write: a SIGKILL
then cannot land in a half-written checkpoint, whatever the machine's speed. `enospc` leaves what TensorFlow
leaves when a disk fills during a save (measured on a 200 kB tmpfs): a `ckpt-N_temp` folder with a partial
file, and a `ResourceExhaustedError`.
"""

import os
import runpy
import signal
import sys

import tensorflow as tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    mode, at, train_flags = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    save = tf.train.CheckpointManager.save

    def save_with_fault(manager, *args, **kwargs):
        target = os.path.basename(manager.directory) == "checkpoints" and int(kwargs["checkpoint_number"]) == at
        if target and mode == "enospc":
            scratch = os.path.join(manager.directory, f"ckpt-{at}_temp")
            os.makedirs(scratch, exist_ok=True)
            with open(os.path.join(scratch, "part-00000-of-00001.data-00000-of-00001"), "wb") as f:
                f.write(b"\0" * 1000)
            raise tf.errors.ResourceExhaustedError(None, None, f"{scratch}; No space left on device")
        path = save(manager, *args, **kwargs)
        if target and mode == "sigint":
            os.kill(os.getpid(), signal.SIGINT)
        elif target and mode.startswith("pause="):
            with open(mode[len("pause="):], "w") as f:
                f.write(path)
            while True:
                signal.pause()  # until the test's SIGKILL
        return path

    tf.train.CheckpointManager.save = save_with_fault
    sys.argv = [os.path.join(ROOT, "train.py"), *train_flags]
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
