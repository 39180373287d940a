"""LiteRT export: file sizes, per-chunk latency, agreement with the SavedModel and the int8 accuracy cost.

    python benchmarks/bench_litert.py [--model=SAVEDMODEL] [--gtzan_dir=DIR --repeats=3] [--threads=1]

Converts `--model` (default: a freshly exported random encoder) to float32 and dynamic-range int8 `.tflite`
files, then, in the same run: the median time of `embed_mel` on one chunk (batch 1, after a warm-up) for the
SavedModel in TensorFlow and for both files in the LiteRT interpreter (`--threads` threads); the largest
difference of their outputs from the SavedModel's on random chunks; and with `--gtzan_dir`, GTZAN accuracy
(`evaluate_gtzan`, same probe seeds) of each, so the int8 cost is read off one table.
"""

from cmir_tf import runtime
from cmir_tf.cli import runner

runtime.configure()  # first, as every cmir-tf command: oneDNN on x86 and quiet logs, before TensorFlow loads

# ruff: noqa: E402
import hashlib
import os
import statistics
import tempfile
import time

import numpy as np
import tensorflow as tf
from absl import flags

from cmir_tf.evaluation import ProbeConfig, SavedModelEmbedder, evaluate_gtzan
from cmir_tf.export import export_audio_encoder
from cmir_tf.export.litert import QUANTIZATIONS, convert_to_litert, load_interpreter
from cmir_tf.models import build_audio_encoder
from cmir_tf.training.precision import machine_summary

flags.DEFINE_string("model", None, "cmir_tf SavedModel (default: a random encoder, exported here).")
flags.DEFINE_string("gtzan_dir", None, "GTZAN folder (e.g. demo_run/corpus/gtzan) for the accuracy cost.")
flags.DEFINE_integer("repeats", 3, "GTZAN probe repeats.")
flags.DEFINE_integer("probe_epochs", 60, "Maximum GTZAN probe epochs.")
flags.DEFINE_integer("timing_runs", 30, "Timed single-chunk calls per model.")
flags.DEFINE_integer("threads", 1, "LiteRT interpreter threads.")
FLAGS = flags.FLAGS


class LiteRTEmbedder:
    """The evaluation `Embedder` protocol over a `.tflite` file's `embed_mel` (front end in TensorFlow)."""

    def __init__(self, path: str, output: str = "features", num_threads: int | None = None):
        self._embed_mel = load_interpreter(path, num_threads).get_signature_runner("embed_mel")
        self.output = output
        self.dim = 1024 if output == "features" else 128
        with open(path, "rb") as f:
            self.model_key = f"litert-{hashlib.sha256(f.read()).hexdigest()[:12]}"

    def embed_chunks(self, chunks: np.ndarray) -> np.ndarray:
        """(B, 256, 48) float32 log-mel chunks in dB -> (B, D) float32 chunk embeddings."""
        return self._embed_mel(mel=chunks)[self.output]


def folder_mib(path: str) -> float:
    return sum(os.path.getsize(os.path.join(root, name)) for root, _, names in os.walk(path) for name in names) / 2**20


def min_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Lowest row-wise cosine similarity of (N, D) arrays."""
    return float(np.min(np.sum(a * b, -1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))))


def median_ms(fn) -> float:
    fn()  # warm-up
    times = []
    for _ in range(FLAGS.timing_runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main(argv: list[str]) -> None:
    del argv
    print(machine_summary())
    with tempfile.TemporaryDirectory() as scratch:
        model = FLAGS.model or export_audio_encoder(build_audio_encoder(), os.path.join(scratch, "random"))
        files = {q: os.path.join(scratch, f"{q}.tflite") for q in QUANTIZATIONS}
        sizes = {q: convert_to_litert(model, path, q) for q, path in files.items()}
        saved = tf.saved_model.load(model).signatures["embed_mel"]
        runners = {q: load_interpreter(p, FLAGS.threads).get_signature_runner("embed_mel") for q, p in files.items()}
        mel = np.random.default_rng(0).normal(-40.0, 20.0, (16, 256, 48)).astype(np.float32)
        reference = {k: v.numpy() for k, v in saved(mel=tf.constant(mel)).items()}
        one = mel[:1]
        latency = {"SavedModel (TensorFlow)": median_ms(lambda: saved(mel=tf.constant(one))["features"].numpy())}
        latency.update({f"LiteRT {q}": median_ms(lambda r=r: r(mel=one)) for q, r in runners.items()})
        print(f"cores (os.cpu_count): {os.cpu_count()}, TensorFlow {tf.__version__}, LiteRT threads {FLAGS.threads}")
        print(f"SavedModel folder: {folder_mib(model):.1f} MiB")
        for q in QUANTIZATIONS:
            out = runners[q](mel=mel)
            errors = {k: f"{np.abs(out[k] - reference[k]).max():.2g}" for k in reference}
            cosines = {k: f"{min_cosine(out[k], reference[k]):.5f}" for k in reference}
            print(f"LiteRT {q}: {sizes[q] / 2**20:.1f} MiB; vs the SavedModel on 16 random chunks: "
                  f"max |difference| {errors}, lowest cosine similarity {cosines}")
        for name, ms in latency.items():
            print(f"{name:>24}: {ms:.1f} ms per chunk (batch 1, median of {FLAGS.timing_runs})")
        if FLAGS.gtzan_dir:
            embedders = {"SavedModel": SavedModelEmbedder(model)}
            embedders.update({f"LiteRT {q}": LiteRTEmbedder(p, num_threads=FLAGS.threads) for q, p in files.items()})
            config = ProbeConfig(epochs=FLAGS.probe_epochs)
            for name, embedder in embedders.items():
                accuracy = evaluate_gtzan(embedder, FLAGS.gtzan_dir, config=config, repeats=FLAGS.repeats,
                                          baseline=False)["accuracy"]
                print(f"GTZAN accuracy, {name}: {accuracy['mean']:.4f} ± {accuracy['std']:.4f} "
                      f"({FLAGS.repeats} probe repeats)")


if __name__ == "__main__":
    runner.run_main(main, "bench_litert.py")
