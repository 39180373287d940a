"""Runs `python -m cmir_tf prepare`, but SIGKILLs itself while writing its N-th TFRecord record.

    python tests/kill_during_shard.py N [prepare flags...]

With one song per shard and one worker, the kill lands inside the N-th shard's write (its temporary file open,
N - 1 shards finished), whatever the machine's speed: the test of a killed prepare is then deterministic.
"""

import os
import runpy
import signal
import sys

from cmir_tf.data import tfrecords


def main() -> None:
    kill_at, prepare_flags = int(sys.argv[1]), sys.argv[2:]
    encode = tfrecords.encode_example
    written = 0

    def encode_or_die(*args, **kwargs):
        nonlocal written
        written += 1
        if written == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return encode(*args, **kwargs)

    tfrecords.encode_example = encode_or_die
    sys.argv = ["prepare", *prepare_flags]
    runpy.run_module("cmir_tf.cli.prepare", run_name="__main__")


if __name__ == "__main__":
    main()
