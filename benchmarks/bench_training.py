"""Training throughput of `contr_cf_g` against the authors' PyTorch step and this machine's best GEMM.

    python benchmarks/bench_training.py [--batch_size=64] [--steps=5]
    # an AVX2-only CPU, approximated on an AVX-512 one (TensorFlow, PyTorch and OpenBLAS capped to AVX2):
    ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 OPENBLAS_CORETYPE=Haswell python benchmarks/bench_training.py

Prints, in one run:
- examples/s of cmir-tf's real train step (`make_train_step`: audio, genre and CF encoders, three NT-Xent
  terms, Adam) at float32 and at the automatic precision (mixed_bfloat16 on CPUs with native bf16, i.e.
  avx512_bf16 or amx_bf16 and no `ONEDNN_MAX_CPU_ISA` cap below AVX-512 bf16; float32 otherwise);
- examples/s of the reference PyTorch step on the same batch: the authors' `AudioEncoder`
  (`tests/torch_reference.py`), a symmetric NT-Xent (temperature 0.1) against a fixed batch of target
  embeddings, Adam; float32, as the authors trained;
- the ratio of the two, and the model GFLOP/s (3 x the audio encoder's forward FLOPs per example: forward
  plus a backward of twice its cost) against the best float32 GEMM measured here: the faster of TensorFlow
  (oneDNN on) and NumPy's BLAS on a 4096^3 product.
Goals (issue 12): at batch 64, >= 2x the reference on an AVX2 CPU and >= 4x on a bf16 CPU; float32 >= 60% of
the best GEMM. Every rate is the best of `--repeats` timings of `--steps` steps after a warm-up step.
"""

from cmir_tf import runtime
from cmir_tf.cli import runner

runtime.configure()  # first, as every cmir-tf command: oneDNN on x86 and quiet logs, before TensorFlow loads

# ruff: noqa: E402
import os
import sys
import time
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from absl import flags

from cmir_tf.models import build_audio_encoder, build_variant
from cmir_tf.training.loop import make_train_step
from cmir_tf.cpu import bf16_usable_flags, cpu_model_and_flags
from cmir_tf.training.precision import machine_summary, select_precision

flags.DEFINE_integer("batch_size", 64, "Global batch size.")
flags.DEFINE_integer("steps", 4, "Timed steps per timing.")
flags.DEFINE_integer("repeats", 2, "Timings per rate; the best counts (other jobs share the cores).")
flags.DEFINE_bool("torch", True, "Also time the PyTorch reference (needs the [torch] extra).")
FLAGS = flags.FLAGS

def best_rate(step: Callable[[], None], work: float, steps: int, repeats: int) -> float:
    """`work` units per second of `step()`: the best of `repeats` timings of `steps` calls, after a warm-up."""
    step()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, time.perf_counter() - start)
    return steps * work / best


def best_gemm_gflops(n: int = 4096) -> dict[str, float]:
    """GFLOP/s of an n^3 float32 matrix product: TensorFlow and NumPy's BLAS."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    a_tf = tf.constant(a)
    product = tf.function(lambda x: tf.matmul(x, x))
    return {
        "TensorFlow": best_rate(lambda: product(a_tf).numpy(), 2 * n**3 / 1e9, 1, 3),
        "NumPy BLAS": best_rate(lambda: a @ a, 2 * n**3 / 1e9, 1, 3),
    }


def forward_gflop_per_example(encoder: keras.Model) -> float:
    """Multiply-adds x 2 of the audio encoder's Conv2D and Dense layers for one (256, 48) input."""
    flop = 0
    for layer in encoder._flatten_layers(include_self=False):
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, out_channels = layer.output.shape
            kernel = np.prod(layer.kernel.shape[:-1])  # kh * kw * in_channels
            flop += 2 * height * width * out_channels * kernel
        elif isinstance(layer, keras.layers.Dense):
            flop += 2 * np.prod(layer.kernel.shape)
    return flop / 1e9


def cmir_rate(precision: str, batch_size: int) -> float:
    """Examples/s of the distributed `contr_cf_g` train step under the Keras dtype policy `precision`."""
    keras.mixed_precision.set_global_policy(precision)
    try:
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
        return best_rate(lambda: float(step(batch)["loss"]), batch_size, FLAGS.steps, FLAGS.repeats)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def torch_reference_rate(batch_size: int) -> float:
    """Examples/s of the authors' audio encoder trained with NT-Xent and Adam in PyTorch (float32)."""
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    from torch_reference import ReferenceAudioEncoder  # tests/torch_reference.py, the authors' encoder

    torch.manual_seed(0)
    model = ReferenceAudioEncoder().train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    mel = torch.randn(batch_size, 1, 48, 256) * 15 - 40
    targets = F.normalize(torch.randn(batch_size, 128), dim=1)
    labels = torch.arange(batch_size)

    def step() -> None:
        optimizer.zero_grad()
        _, embedding = model(mel)
        logits = F.normalize(embedding, dim=1) @ targets.T / 0.1
        loss = (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2
        loss.backward()
        optimizer.step()
        loss.detach().item()

    return best_rate(step, batch_size, FLAGS.steps, FLAGS.repeats)


def main(argv) -> None:
    del argv
    _, cpu_flags = cpu_model_and_flags()
    print(machine_summary())
    gemm = best_gemm_gflops()
    best_gemm = max(gemm.values())
    print("float32 GEMM 4096^3: " + ", ".join(f"{name} {rate:.1f} GFLOP/s" for name, rate in gemm.items()))
    gflop = 3 * forward_gflop_per_example(build_audio_encoder())
    auto, _ = select_precision("auto", bf16_usable_flags(cpu_flags), [])
    rates = {precision: cmir_rate(precision, FLAGS.batch_size) for precision in dict.fromkeys(["float32", auto])}
    for precision, rate in rates.items():
        label = "float32" if precision == "float32" else f"auto = {precision}"
        print(f"cmir-tf {label}: {rate:.2f} examples/s at batch {FLAGS.batch_size}, {rate * gflop:.1f} model "
              f"GFLOP/s = {rate * gflop / best_gemm:.0%} of the best float32 GEMM ({gflop:.2f} GFLOP per example)")
    if auto != "float32":
        print(f"auto ({auto}) / float32: {rates[auto] / rates['float32']:.2f}x")
    if FLAGS.torch:
        import torch

        reference = torch_reference_rate(FLAGS.batch_size)
        print(f"PyTorch {torch.__version__} reference (float32, {torch.get_num_threads()} threads): "
              f"{reference:.2f} examples/s at batch {FLAGS.batch_size}")
        print(f"cmir-tf / reference: float32 {rates['float32'] / reference:.2f}x, "
              f"auto ({auto}) {rates[auto] / reference:.2f}x")


if __name__ == "__main__":
    runner.run_main(main, "bench_training.py")
