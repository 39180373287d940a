"""Embedding speed: batched chunk throughput of the exported model, and file -> embedding real-time factor.

    python benchmarks/bench_embedding_rtf.py [--seconds=30] [--repeats=3] [--files=16]

1. Chunks/s at batch 128 (float32): the Keras encoder's forward pass alone (a `tf.function`, inference mode)
   against the exported SavedModel's `embed_mel` signature, and against the whole batched path of
   evaluate.py / cmir-embed (`chunk_batches.embed_tracks`: parallel decoding and resampling of `--files`
   FLAC files, log-mel, 128 chunks a call). Goal (issue 12): the exported model >= 80% of the Keras rate.
2. Real-time factor of one file through `embed_waveform`, float32 vs mixed_bfloat16: the input is a
   synthetic music-like 44.1 kHz stereo FLAC (decoding and resampling are part of the cost); for each dtype
   policy a random encoder is exported to a SavedModel and reloaded. RTF = processing time / audio duration.
Times are medians of `--repeats` runs after one warm-up run.
"""

from cmir_tf import runtime
from cmir_tf.cli import runner

runtime.configure()  # first, as every cmir-tf command: oneDNN on x86 and quiet logs, before TensorFlow loads

# ruff: noqa: E402
import os
import tempfile

import keras
import numpy as np
import soundfile as sf
import tensorflow as tf
from absl import flags

from cmir_tf.audio import load_audio
from cmir_tf.export import export_audio_encoder
from cmir_tf.export.chunk_batches import BATCH_CHUNKS, WAVEFORM, embed_tracks
from cmir_tf.export.exported import ExportedModel
from cmir_tf.models import build_audio_encoder
from cmir_tf.training.precision import machine_summary
from timing import median_seconds

flags.DEFINE_float("seconds", 30.0, "Duration of the benchmark file.")
flags.DEFINE_integer("repeats", 3, "Timed runs per measurement.")
flags.DEFINE_integer("files", 16, "Files of `--seconds` each for the batched file path.")
FLAGS = flags.FLAGS

POLICIES = ("float32", "mixed_bfloat16")


def music_like(seconds: float, rate: int) -> np.ndarray:
    """(n, 2) float32: decaying harmonic notes over noise bursts, a different mix per channel."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * rate)) / rate
    notes = 110.0 * 2 ** (rng.integers(0, 24, size=int(seconds * 2)) / 12)
    tone = np.sin(2 * np.pi * notes[(t * 2).astype(int)] * t) * np.exp(-3 * (t % 0.5))
    drums = rng.normal(size=t.size) * np.exp(-20 * (t % 0.25))
    return (0.3 * np.stack([tone + 0.3 * drums, 0.7 * tone + 0.5 * drums], axis=1)).astype(np.float32)


def time_policy(policy: str, audio_path: str, scratch: str) -> float:
    """Median seconds for file -> embedding with an encoder built under `policy`."""
    keras.mixed_precision.set_dtype_policy(policy)
    try:
        encoder = build_audio_encoder()
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    loaded = tf.saved_model.load(export_audio_encoder(encoder, os.path.join(scratch, policy)))
    embed = loaded.signatures["embed_waveform"]

    return median_seconds(lambda: embed(waveform=tf.constant(load_audio(audio_path)))["mean_features"].numpy(),
                          FLAGS.repeats)


def chunk_rates(audio_path: str, scratch: str) -> dict[str, float]:
    """Chunks/s of the Keras forward pass, the exported `embed_mel` and the batched file path."""
    encoder = build_audio_encoder()
    chunks = np.random.default_rng(0).normal(-40, 15, (BATCH_CHUNKS, 256, 48)).astype(np.float32)
    forward = tf.function(lambda x: encoder(x, training=False)["features"])
    model = ExportedModel(export_audio_encoder(encoder, os.path.join(scratch, "chunks")))
    embed_chunks = model.chunk_embedder("features")
    counted = []
    paths = [audio_path] * FLAGS.files

    def embed_files() -> None:
        counted[:] = [len(rows) for _, rows, _ in embed_tracks(embed_chunks, paths, load_audio, WAVEFORM)]

    files_seconds = median_seconds(embed_files, FLAGS.repeats)
    return {
        "Keras encoder forward": BATCH_CHUNKS / median_seconds(lambda: forward(tf.constant(chunks)).numpy(),
                                                               FLAGS.repeats),
        "exported embed_mel": BATCH_CHUNKS / median_seconds(lambda: embed_chunks(chunks), FLAGS.repeats),
        f"exported, {FLAGS.files} FLAC files end to end": sum(counted) / files_seconds,
    }


def main(argv: list[str]) -> None:
    del argv
    print(machine_summary())
    with tempfile.TemporaryDirectory() as scratch:
        audio_path = os.path.join(scratch, "music.flac")
        sf.write(audio_path, music_like(FLAGS.seconds, 44100), 44100)
        rates = chunk_rates(audio_path, scratch)
        seconds = {policy: time_policy(policy, audio_path, scratch) for policy in POLICIES}
        decode = median_seconds(lambda: load_audio(audio_path), FLAGS.repeats)
    print(f"cores (os.cpu_count): {os.cpu_count()}, TensorFlow {tf.__version__}, "
          f"devices: {[d.device_type for d in tf.config.list_physical_devices()]}")
    keras_rate = rates["Keras encoder forward"]
    for name, rate in rates.items():
        print(f"{name:>36}: {rate:.1f} chunks/s at batch {BATCH_CHUNKS} = {rate / keras_rate:.0%} of the Keras rate")
    print(f"file: {FLAGS.seconds:.1f} s, 44.1 kHz stereo FLAC; median of {FLAGS.repeats} runs")
    for policy, elapsed in seconds.items():
        print(f"{policy:>15}: {elapsed:.3f} s per file, RTF {elapsed / FLAGS.seconds:.4f} "
              f"({FLAGS.seconds / elapsed:.1f}x real time)")
    print(f"of which decode + resample: {decode:.3f} s")
    print(f"mixed_bfloat16 / float32 time ratio: {seconds['mixed_bfloat16'] / seconds['float32']:.2f}")


if __name__ == "__main__":
    runner.run_main(main, "bench_embedding_rtf.py")
