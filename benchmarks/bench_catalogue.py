"""Catalogue preparation rate: audio files -> mels (tracks/s, 1 and 2 worker processes), the whole prepare of a
small catalogue, and the mel step against the front end's own rate.

    python benchmarks/bench_catalogue.py [--seconds=30] [--files=12] [--tracks=120]

`--files` generated MP3s (44.1 kHz stereo, `--seconds` long: decoding and resampling as for a real library)
are turned into `--tracks` mels (track i is file i mod --files, decoded again each time, from the page cache as
a library's files would be from a warm disk), cache empty: by `cmir_tf.data.catalogue.mels.compute_all` with
one worker (in this process, as prepare does for --workers=1), and by `mels.compute` in a pool of 1 and of 2
worker processes set up as `compute_all` sets them up. A pool's start-up (each worker importing TensorFlow and
tracing the front end) is timed apart from its steady rate; the 100,000-track time is start-up +
100,000 / rate. The CPU time a track takes in its worker is reported too: where it stays the same from 1 to 2
workers the work is independent, and the rate grows with the free cores (on a machine busy with other jobs,
the wall-clock rate cannot show that). Also timed: the front end alone (`log_mel_spectrogram` traced once, on 30-s 16 kHz
waveforms) against the mel step (`mels.log_mel`: the same plus the layout and float16 cast) on the same
waveforms, and one whole `prepare` of the `--files` tracks (2 workers, no playlists), stage by stage in its log
(at this size its time is mostly the worker processes' start-up). Nothing here is a test: numbers depend on the machine and its load.
"""

from cmir_tf import runtime
from cmir_tf.cli import runner

runtime.configure()  # first, as every cmir-tf command: oneDNN on x86 and quiet logs, before TensorFlow loads

# ruff: noqa: E402
import multiprocessing
import os
import tempfile
import time

import numpy as np
import soundfile as sf
import tensorflow as tf
from absl import flags

from cmir_tf.audio import log_mel_spectrogram
from cmir_tf.data import prepare
from cmir_tf.data.catalogue import mels
from cmir_tf.training.precision import machine_summary

flags.DEFINE_float("seconds", 30.0, "Length of each generated track.")
flags.DEFINE_integer("files", 12, "Distinct generated MP3 files.")
flags.DEFINE_integer("tracks", 120, "Tracks timed per setting.")
flags.DEFINE_integer("front_end_calls", 40, "Timed calls of the front end and of the mel step.")
FLAGS = flags.FLAGS
TRACKS_AT_SCALE = 100_000
GENRES = ("rock", "jazz", "electronic", "folk")


def write_catalogue(folder: str, count: int, seconds: float, seed: int = 0) -> str:
    """`count` MP3s in `folder` (noise and tones, 44.1 kHz stereo) and a track table; returns its path."""
    rng = np.random.default_rng(seed)
    rows = ["path,genre,artist"]
    rate = 44_100
    t = np.arange(int(seconds * rate)) / rate
    for i in range(count):
        tone = 0.3 * np.sin(2 * np.pi * (110 + 40 * i) * t) + 0.05 * rng.standard_normal(t.size)
        name = f"track {i:04d}.mp3"
        sf.write(os.path.join(folder, name), np.stack([tone, tone], 1).astype(np.float32), rate)
        rows.append(f"{name},{GENRES[i % 4]}|{GENRES[(i + 1) % 4]},artist {i % 7}")
    table = os.path.join(folder, "tracks.csv")
    with open(table, "w") as f:
        f.write("\n".join(rows) + "\n")
    return table


def mel_jobs(folder: str, files: int, count: int, cache: str) -> list[mels.MelJob]:
    """`count` jobs, track i decoding file i mod `files`, each with its own (empty) cache file."""
    return [mels.MelJob(os.path.join(folder, f"track {i % files:04d}.mp3"), os.path.join(cache, f"{i}.npy"))
            for i in range(count)]


def _warm(_: int) -> int:
    """A worker's start-up: TensorFlow imported and the front end traced."""
    mels.log_mel(np.zeros(16_000, np.float32))
    return os.getpid()


def _timed(job: mels.MelJob) -> tuple[mels.MelResult, float]:
    """`mels.compute(job)` and the CPU seconds it took in its process."""
    start = time.process_time()
    return mels.compute(job), time.process_time() - start


def pool_rate(jobs: list[mels.MelJob], workers: int) -> tuple[float, float, float]:
    """(start-up seconds, steady tracks/s, CPU ms per track) of a pool of `workers` computing `jobs`."""
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers, initializer=mels._one_thread) as pool:
        pool.map(_warm, range(workers), chunksize=1)
        ready = time.perf_counter()
        timed = pool.map(_timed, jobs, chunksize=4)
        done = time.perf_counter()
    assert not any(r.error for r, _ in timed), [r.error for r, _ in timed if r.error]
    return ready - start, len(jobs) / (done - ready), 1000 * sum(cpu for _, cpu in timed) / len(jobs)


def front_end_rates(calls: int) -> tuple[float, float]:
    """(calls/s of the traced front end alone, calls/s of `mels.log_mel`) on 30-s waveforms, interleaved."""
    front_end = tf.function(log_mel_spectrogram, input_signature=[tf.TensorSpec([None], tf.float32)])
    waveform = np.random.default_rng(0).uniform(-0.5, 0.5, int(mels.WINDOW_S * 16_000)).astype(np.float32)
    front_end(waveform).numpy(), mels.log_mel(waveform)  # trace both
    alone = step = 0.0
    for _ in range(calls):
        start = time.perf_counter()
        front_end(waveform).numpy()
        alone += time.perf_counter() - start
        start = time.perf_counter()
        mels.log_mel(waveform)
        step += time.perf_counter() - start
    return calls / alone, calls / step


def main(argv):
    runner.no_arguments(argv)
    print(machine_summary())
    print("(machine shared with other jobs while measured: rates are lower bounds of an idle machine's)")
    alone, step = front_end_rates(FLAGS.front_end_calls)
    print(f"front end alone: {alone:.1f} windows/s; mel step (mels.log_mel): {step:.1f} windows/s "
          f"= {100 * step / alone:.0f} % of the front end's rate")
    with tempfile.TemporaryDirectory() as work:
        audio = os.path.join(work, "music")
        os.makedirs(audio)
        start = time.perf_counter()
        table = write_catalogue(audio, FLAGS.files, FLAGS.seconds)
        print(f"{FLAGS.files} MP3s of {FLAGS.seconds:g} s written in {time.perf_counter() - start:.1f} s (not timed)")
        start = time.perf_counter()
        mels.compute_all(mel_jobs(audio, FLAGS.files, FLAGS.tracks, os.path.join(work, "in_process")), 1)
        rate = FLAGS.tracks / (time.perf_counter() - start)
        print(f"mels, --workers=1 (this process, TensorFlow's own threads): {rate:.2f} tracks/s; "
              f"{TRACKS_AT_SCALE:,} tracks of {FLAGS.seconds:g} s: {TRACKS_AT_SCALE / rate / 3600:.2f} h")
        for workers in (1, 2):
            startup, rate, cpu = pool_rate(
                mel_jobs(audio, FLAGS.files, FLAGS.tracks, os.path.join(work, f"pool{workers}")), workers)
            print(f"mels, pool of {workers} (one thread each): start-up {startup:.1f} s, {rate:.2f} tracks/s, "
                  f"{cpu:.0f} ms of CPU a track; "
                  f"{TRACKS_AT_SCALE:,} tracks of {FLAGS.seconds:g} s: {(startup + TRACKS_AT_SCALE / rate) / 3600:.2f} h")
        out = os.path.join(work, "prepared")
        start = time.perf_counter()
        manifest = prepare.prepare(prepare.PrepareConfig(None, out, audio_dir=audio, tracks=table, workers=2,
                                                         word2vec_dim=32))
        print(f"whole prepare of {FLAGS.files} tracks (2 workers, no playlists): {time.perf_counter() - start:.1f} s, "
              f"records {manifest['counts']}")


if __name__ == "__main__":
    runner.run_main(main, "bench_catalogue.py")
