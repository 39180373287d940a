"""A worker of the multi-worker test: trains `contr_cf_g` for 3 steps and prints the losses as JSON.

Run with TF_CONFIG set (MultiWorkerMirroredStrategy) or without (one process, the same global batch).
Every global batch is the same 8 examples whichever the number of workers: each worker takes every
`num_input_pipelines`-th example of it.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from cmir_tf.models import build_variant  # noqa: E402
from cmir_tf.training.loop import make_train_step  # noqa: E402
from cmir_tf.training.strategy import make_strategy  # noqa: E402

GLOBAL_BATCH, STEPS = 8, 3  # 4 examples per worker: float64 convolutions are slow on CPU


def examples() -> dict:
    rng = np.random.default_rng(7)
    n = GLOBAL_BATCH * STEPS
    genre_ids = np.zeros((n, 10), np.int32)
    genre_ids[:, 0] = rng.integers(1, 9, n)
    genre_ids[:, 1] = rng.integers(0, 9, n)
    return {
        "mel": rng.normal(size=(n, 256, 48)).astype(np.float32),
        "genre_ids": genre_ids,
        "cf": rng.normal(size=(n, 301)).astype(np.float32),
    }


def main() -> None:
    # float64 end to end: in float32 the BatchNorm backward passes of this deep network lose ~1% of their
    # relative accuracy to cancellation (measured against float64), which would hide the comparison.
    keras.config.set_dtype_policy("float64")
    keras.utils.set_random_seed(0)
    strategy = make_strategy(sys.argv[1])
    word2vec = np.random.default_rng(0).normal(size=(9, 16)).astype(np.float32)
    word2vec[0] = 0
    with strategy.scope():
        model = build_variant("contr_cf_g", word2vec, dropout=0.0)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
    data = examples()

    def dataset(context: tf.distribute.InputContext) -> tf.data.Dataset:
        ds = tf.data.Dataset.from_tensor_slices(data)
        per_replica = context.get_per_replica_batch_size(GLOBAL_BATCH)
        # Global batch s holds examples [8 s, 8 s + 8) whatever the number of pipelines.
        ds = ds.batch(GLOBAL_BATCH).unbatch().shard(context.num_input_pipelines, context.input_pipeline_id)
        return ds.batch(per_replica)

    step = make_train_step(model, strategy)
    batches = iter(strategy.distribute_datasets_from_function(dataset))
    losses = []
    for _ in range(STEPS):
        losses.append(float(step(next(batches))["loss"]))
        for metric in model.metrics:
            metric.reset_state()
    print("LOSSES " + json.dumps(losses), flush=True)
    # Worker 0 hosts the coordination service, so it must leave last or the other worker's heartbeats fail:
    # it waits for its stdin to close, which the test does once every other worker has exited.
    task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    if task.get("index", 0) == 0 and task:
        sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    main()
