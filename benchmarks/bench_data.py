"""Data pipeline throughput: `prepare` (songs/s) and `make_dataset` (examples/s) vs the CPU training rate.

    python benchmarks/bench_data.py [--songs=600] [--workers=1] [--reader_batches=80] [--reader_copies=10]
                                    [--train_steps=4]

A demo corpus of `--songs` Melon songs (1,250-1,600 frames, as real `arena_mel`) is generated in a temporary
folder and prepared (default flags: 1,300 frames, LightFM 50 epochs). Reported:
- prepare songs/s end to end, and of the shard-writing stage alone (shards deleted, cached stages reused);
- reader examples/s: training pipeline, batch 128, random 256-frame crops, over whole epochs of 10 copies
  of the training shards (so that each epoch's shuffle-buffer fill weighs as in a real, long epoch);
- CPU training examples/s: forward + backward of `build_audio_encoder()` on batch 32 (a lower bound on the
  cost of a real step, which adds the genre/CF encoders and the loss), and the reader/training ratio.
"""

from cmir_tf import runtime
from cmir_tf.cli import runner

runtime.configure()  # first, as every cmir-tf command: oneDNN on x86 and quiet logs, before TensorFlow loads

# ruff: noqa: E402
import json
import os
import shutil
import tempfile
import time

import keras
import tensorflow as tf
from absl import flags

from cmir_tf.synthetic import corpus as synthetic
from cmir_tf.data import make_dataset, prepare
from cmir_tf.data.prepared import PreparedFolder
from cmir_tf.models import build_audio_encoder
from cmir_tf.training.precision import machine_summary

flags.DEFINE_integer("songs", 600, "Melon songs in the generated corpus.")
flags.DEFINE_integer("workers", 1, "prepare --workers.")
flags.DEFINE_integer("reader_batches", 80, "Timed reader batches of 128, whole epochs.")
flags.DEFINE_integer("reader_copies", 10, "Copies of the training shards the reader reads (longer epochs).")
flags.DEFINE_integer("train_steps", 4, "Timed training-like steps of batch 32 (after one warm-up step).")
FLAGS = flags.FLAGS


def reader_rate(data_dir: str, batches: int, copies: int, batch_size: int = 128) -> float:
    """Examples/s of the training pipeline over whole epochs, start-up (shuffle-buffer fill) included.

    The training shards are first copied `copies` times (the reader reads every `train-*` shard), so that
    an epoch holds enough batches for the start-up to weigh as little as in a real epoch.
    """
    originals = PreparedFolder(data_dir).shard_files("train")
    for copy in range(1, copies):
        for path in originals:
            folder, name = os.path.split(path)
            shutil.copy(path, os.path.join(folder, name.replace("train-", f"train-copy{copy}-")))
    done, start = 0, time.perf_counter()
    for epoch in range(1000):
        for batch in make_dataset(data_dir, "train", batch_size, training=True, seed=0, epoch=epoch):
            batch["mel"].numpy()
            done += 1
            if done == batches:
                return batches * batch_size / (time.perf_counter() - start)
    raise ValueError("not enough training batches")


def training_rate(steps: int, batch_size: int = 32) -> float:
    encoder = build_audio_encoder()
    optimizer = keras.optimizers.Adam(1e-4)
    mel = tf.random.normal([batch_size, 256, 48], -40, 20)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(encoder(mel, training=True)["embedding"]))
        grads = tape.gradient(loss, encoder.trainable_variables)
        optimizer.apply_gradients(zip(grads, encoder.trainable_variables))
        return loss

    step().numpy()
    start = time.perf_counter()
    for _ in range(steps):
        step().numpy()
    return steps * batch_size / (time.perf_counter() - start)


def main(argv):
    del argv
    print(machine_summary())
    work = tempfile.mkdtemp(prefix="bench_data_")
    try:
        start = time.perf_counter()
        synthetic.generate(os.path.join(work, "corpus"), melon_songs=FLAGS.songs, melon_playlists=FLAGS.songs // 3,
                           gtzan_per_genre=1, gtzan_seconds=0.5, jamendo_tracks=5, jamendo_seconds=0.5,
                           workers=os.cpu_count() or 1)
        generate_s = time.perf_counter() - start
        config = prepare.PrepareConfig(os.path.join(work, "corpus", "melon"), os.path.join(work, "prepared"),
                                       workers=FLAGS.workers)
        start = time.perf_counter()
        manifest = prepare.prepare(config)
        prepare_s = time.perf_counter() - start
        records = sum(manifest["counts"].values())
        folder = PreparedFolder(config.output_dir)
        for path in folder.shard_files("train") + folder.shard_files("validation") + folder.shard_files("test"):
            os.remove(path)  # the shards alone are rewritten
        start = time.perf_counter()
        prepare.prepare(config)
        shards_s = time.perf_counter() - start

        reader = reader_rate(config.output_dir, FLAGS.reader_batches, FLAGS.reader_copies)
        train = training_rate(FLAGS.train_steps)
        results = {
            "cpu_count": os.cpu_count(),
            "songs": records,
            "generate_corpus_s": round(generate_s, 1),
            "prepare_songs_per_s": round(records / prepare_s, 1),
            "prepare_shard_stage_songs_per_s": round(records / shards_s, 1),
            "reader_examples_per_s": round(reader, 1),
            "cpu_training_examples_per_s": round(train, 2),
            "reader_over_training": round(reader / train, 1),
        }
        print(json.dumps(results, indent=1))
        if reader < 50 * train:
            print("WARNING: the reader is less than 50x the CPU training rate")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    runner.run_main(main, "bench_data.py")
