"""Runs `python -m cmir_tf prepare`, but SIGKILLs itself right after the LightFM checkpoint of epoch K.

    python tests/kill_after_cf_checkpoint.py K [prepare flags...]

The kill lands between two epochs with the checkpoint complete, whatever the machine's speed.
"""

import os
import runpy
import signal
import sys

from cmir_tf.data import cf_lightfm


def main() -> None:
    kill_at, prepare_flags = int(sys.argv[1]), sys.argv[2:]
    save = cf_lightfm.save_checkpoint

    def save_then_die(path, model, epochs_done, settings):
        save(path, model, epochs_done, settings)
        if epochs_done == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    cf_lightfm.save_checkpoint = save_then_die
    sys.argv = ["prepare", *prepare_flags]
    runpy.run_module("cmir_tf.cli.prepare", run_name="__main__")


if __name__ == "__main__":
    main()
