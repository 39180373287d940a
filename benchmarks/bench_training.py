"""Training throughput of `contr_cf_g` at batch 128 against this machine's measured matmul peak.

    python benchmarks/bench_training.py [--batch_size=128] [--steps=3] [--precisions=float32,mixed_bfloat16]

For each precision: examples/s of the real distributed train step (`make_train_step`: audio, genre and CF
encoders, three NT-Xent terms, Adam) on random batches; the matmul peak (GFLOP/s) of a 4096^3 float32 and
bfloat16 matrix product measured in the same run; and the ratio of achieved model FLOP/s to the float32
peak, with one training example counted as 3 x 1.84 GFLOP (forward + backward of the audio encoder).
Targets: float32 >= 65% of the peak; mixed_bfloat16 >= 1.4x float32 where the CPU has bf16 instructions.
"""

import cmir_tf.runtime  # noqa: F401  (first: oneDNN and quiet logs must be set before TensorFlow loads)
import os
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from cmir_tf.models import build_variant
from cmir_tf.training.loop import make_train_step

flags.DEFINE_integer("batch_size", 128, "Global batch size.")
flags.DEFINE_integer("steps", 5, "Timed steps per precision (after one warm-up step).")
flags.DEFINE_list("precisions", ["float32", "mixed_bfloat16"], "Keras dtype policies to time.")
FLAGS = flags.FLAGS

GFLOP_PER_EXAMPLE = 3 * 1.84


def matmul_peak_gflops(dtype: tf.DType, n: int = 4096, repeats: int = 5) -> float:
    """The best of `repeats` timed n x n x n products (a peak is a maximum, not a mean)."""
    a = tf.cast(tf.random.normal([n, n], dtype=tf.float32), dtype)
    product = tf.function(lambda x: tf.matmul(x, x))
    product(a).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        product(a).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def training_rate(precision: str, batch_size: int, steps: int) -> float:
    keras.mixed_precision.set_global_policy(precision)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    word2vec = rng.normal(size=(26, 64)).astype(np.float32)
    word2vec[0] = 0
    strategy = tf.distribute.get_strategy()
    model = build_variant("contr_cf_g", word2vec)
    model.compile(optimizer=keras.optimizers.Adam(1e-4))
    genre_ids = np.zeros((batch_size, 10), np.int32)
    genre_ids[:, :2] = rng.integers(1, 26, (batch_size, 2))
    batch = {
        "mel": tf.constant(rng.normal(-40, 15, (batch_size, 256, 48)).astype(np.float32)),
        "genre_ids": tf.constant(genre_ids),
        "cf": tf.constant(rng.normal(size=(batch_size, 301)).astype(np.float32)),
    }
    step = make_train_step(model, strategy)
    float(step(batch)["loss"])  # trace and warm up
    start = time.perf_counter()
    for _ in range(steps):
        float(step(batch)["loss"])
    return steps * batch_size / (time.perf_counter() - start)


def main(argv) -> None:
    del argv
    print(f"cores: {os.cpu_count()}, TensorFlow {tf.__version__}, GPUs: {len(tf.config.list_physical_devices('GPU'))}")
    peak32 = matmul_peak_gflops(tf.float32)
    peak16 = matmul_peak_gflops(tf.bfloat16)
    print(f"matmul peak: float32 {peak32:.1f} GFLOP/s, bfloat16 {peak16:.1f} GFLOP/s ({peak16 / peak32:.2f}x)")
    rates = {}
    for precision in FLAGS.precisions:
        rates[precision] = training_rate(precision, FLAGS.batch_size, FLAGS.steps)
        achieved = rates[precision] * GFLOP_PER_EXAMPLE
        print(
            f"{precision}: {rates[precision]:.2f} examples/s at batch {FLAGS.batch_size}, "
            f"{achieved:.1f} model GFLOP/s = {achieved / peak32:.0%} of the float32 matmul peak"
        )
    if "float32" in rates and "mixed_bfloat16" in rates:
        print(f"mixed_bfloat16 / float32 speed: {rates['mixed_bfloat16'] / rates['float32']:.2f}x")


if __name__ == "__main__":
    app.run(main)
