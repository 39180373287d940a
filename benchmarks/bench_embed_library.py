"""cmir-embed on a music library: throughput against the model's own chunk rate, and peak memory.

    python benchmarks/bench_embed_library.py [--tracks=14] [--track_seconds=120] [--repeats=2] [--long_hours=3]

1. Throughput (issue 32): a folder of `--tracks` generated "real-like" stereo tracks (`tests/audio_files.py`:
   harmonic notes and noise bursts) in seven formats, cycled: FLAC 44.1 kHz, MP3 (libsndfile), AAC and ALAC
   .m4a, Opus .webm (48 kHz), Vorbis .ogg, WAV 48 kHz. `embed_files` (what cmir-embed runs: decoding,
   resampling and the log-mel in worker threads, overlapped with the model) embeds it, in this process,
   against the exported model's own rate on batches of 128 random chunks (`embed_mel` alone), measured in
   the same run. Goal: >= 80 % of the model's rate. Reports files/s and chunks/s; medians of `--repeats` runs
   after a warm-up.
2. Peak memory (RSS, `getrusage` of a child process): `python -m cmir_tf embed` over the library, and over
   one `--long_hours` 48 kHz stereo FLAC (written in blocks; skipped with --long_hours=0). Goal: < ~1.5 GB
   for 3 hours, as for a 3-minute file.
3. The bound the CPU sets: the CPU seconds per chunk of the model (`embed_mel`, batch 128) and of decoding,
   resampling and the log-mel of each format (`file_chunks` in this thread, nothing else running), both with
   `time.process_time`. On any number of cores, decoding overlapped with the model gives at most
   model / (model + decoding) of the model's own rate.
A random-initialised encoder of the paper's architecture is exported (speed does not depend on the weights).
"""

from cmir_tf import runtime
from cmir_tf.cli import runner

runtime.configure()  # first, as every cmir-tf command: oneDNN on x86 and quiet logs, before TensorFlow loads

# ruff: noqa: E402
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import soundfile as sf
from absl import flags

from cmir_tf.export import export_audio_encoder
from cmir_tf.export.chunk_batches import BATCH_CHUNKS
from cmir_tf.export.embed_files import EMBED_BATCH_CHUNKS, EmbedConfig, embed_files
from cmir_tf.export.exported import ExportedModel
from cmir_tf.models import build_audio_encoder
from cmir_tf.training.precision import machine_summary
from timing import median_seconds

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
import audio_files  # the tests' generated music and PyAV encoders
from cmir_tf.audio.chunker import file_chunks

flags.DEFINE_integer("tracks", 14, "Tracks in the library (formats cycled).")
flags.DEFINE_float("track_seconds", 120.0, "Duration of each track.")
flags.DEFINE_integer("repeats", 2, "Timed runs per measurement.")
flags.DEFINE_float("long_hours", 3.0, "Duration of the long 48 kHz stereo FLAC for peak memory; 0 skips it.")
FLAGS = flags.FLAGS

SOUNDFILE_FORMATS = {"flac": (44100, "PCM_16"), "mp3": (44100, "MPEG_LAYER_III"), "ogg": (44100, "VORBIS"),
                     "wav": (48000, "PCM_16")}
FORMATS = ("flac", "mp3", "m4a", "alac.m4a", "webm", "ogg", "wav")


def write_track(folder: str, index: int) -> str:
    """Track `index` of the library, in format `FORMATS[index % 7]`."""
    kind = FORMATS[index % len(FORMATS)]
    rate = SOUNDFILE_FORMATS.get(kind, (48000 if kind == "webm" else 44100, None))[0]
    pcm = audio_files.music(FLAGS.track_seconds, rate, seed=index)
    path = os.path.join(folder, f"track{index:02d}.{kind}")
    if kind in SOUNDFILE_FORMATS:  # in blocks: libsndfile's Vorbis encoder crashes on one long write
        with sf.SoundFile(path, "w", rate, 2, SOUNDFILE_FORMATS[kind][1]) as f:
            for start in range(0, len(pcm), rate):
                f.write(pcm[start : start + rate])
    else:
        audio_files.write(path, pcm, rate, kind)
    return path


def write_long_flac(path: str, hours: float) -> None:
    """`hours` of 48 kHz stereo 16-bit FLAC, written a minute at a time (one minute of music, varied)."""
    minute = audio_files.music(60.0, 48000)
    with sf.SoundFile(path, "w", 48000, 2, "PCM_16", format="FLAC") as f:
        for i in range(int(hours * 60)):
            f.write(np.roll(minute, i * 4801, axis=0))


def peak_rss_mb(model: str, inputs: list[str], output_dir: str) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of `python -m cmir_tf embed` over `inputs`, in a child process."""
    script = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
              "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    command = [sys.executable, "-c", script, sys.executable, "-m", "cmir_tf", "embed", f"--model={model}",
               f"--output_dir={output_dir}", "--overwrite", *inputs]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1]) / 1024, time.perf_counter() - start


def cpu_per_chunk(fn, n_chunks: int) -> float:
    """CPU seconds (all threads of this process) per chunk of `fn()`, which handles `n_chunks`; best of
    `--repeats` runs after a warm-up."""
    fn()
    times = []
    for _ in range(FLAGS.repeats):
        start = time.process_time()
        fn()
        times.append(time.process_time() - start)
    return min(times) / n_chunks


def decoding_cpu(path: str) -> tuple[float, int]:
    """(CPU seconds per chunk of decoding, resampling and the log-mel of `path`, its chunks)."""
    n_chunks = sum(len(block) for block in file_chunks(path))
    return cpu_per_chunk(lambda: sum(1 for _ in file_chunks(path)), n_chunks), n_chunks


def main(argv: list[str]) -> None:
    del argv
    print(machine_summary())
    with tempfile.TemporaryDirectory() as scratch:
        library = os.path.join(scratch, "library")
        os.makedirs(library)
        paths = [write_track(library, i) for i in range(FLAGS.tracks)]
        model_dir = export_audio_encoder(build_audio_encoder(), os.path.join(scratch, "model"))
        embed_chunks = ExportedModel(model_dir).chunk_embedder("features")
        chunks = np.random.default_rng(0).normal(-40, 15, (BATCH_CHUNKS, 256, 48)).astype(np.float32)
        model_rate = BATCH_CHUNKS / median_seconds(lambda: embed_chunks(chunks), FLAGS.repeats)  # best: 128 a call
        model_rate_32 = EMBED_BATCH_CHUNKS / median_seconds(lambda: embed_chunks(chunks[:EMBED_BATCH_CHUNKS]),
                                                            FLAGS.repeats)
        config = EmbedConfig(model=model_dir, inputs=(library,), output_dir=os.path.join(scratch, "out"),
                             overwrite=True)
        summaries = []
        seconds = median_seconds(lambda: summaries.append(embed_files(config)), FLAGS.repeats)
        n_chunks = sum(len(np.load(os.path.join(scratch, "out", "library", os.path.basename(p) + ".npz"))["chunks"])
                       for p in paths)
        assert summaries[-1].written == FLAGS.tracks, summaries[-1].line()
        # the load may change while the library is embedded
        model_rate_after = BATCH_CHUNKS / median_seconds(lambda: embed_chunks(chunks), FLAGS.repeats)
        model_cpu = cpu_per_chunk(lambda: embed_chunks(chunks), BATCH_CHUNKS)
        decoding = {kind: decoding_cpu(path) for kind, path in zip(FORMATS, paths)}  # the first track of each
        library_rss = peak_rss_mb(model_dir, [library], os.path.join(scratch, "out_rss"))
        if FLAGS.long_hours:
            long_path = os.path.join(scratch, "long.flac")
            write_long_flac(long_path, FLAGS.long_hours)
            long_rss = peak_rss_mb(model_dir, [long_path], os.path.join(scratch, "out_long"))
            long_chunks = len(np.load(os.path.join(scratch, "out_long", "long.flac.npz"))["chunks"])
    rate = n_chunks / seconds
    model = statistics.mean([model_rate, model_rate_after])
    print(f"library: {FLAGS.tracks} tracks of {FLAGS.track_seconds:.0f} s ({', '.join(FORMATS)}), {n_chunks} chunks")
    print(f"model alone (embed_mel, batch {BATCH_CHUNKS}): {model:.1f} chunks/s "
          f"(before {model_rate:.1f}, after {model_rate_after:.1f}); at batch {EMBED_BATCH_CHUNKS}: {model_rate_32:.1f}")
    print(f"cmir-embed (embed_files, {EMBED_BATCH_CHUNKS} chunks a call): {seconds:.2f} s, {FLAGS.tracks / seconds:.2f} files/s, {rate:.1f} chunks/s "
          f"= {rate / model:.0%} of the model's rate; median of {FLAGS.repeats}")
    print(f"peak RSS, python -m cmir_tf embed over the library: {library_rss[0]:.0f} MB ({library_rss[1]:.0f} s)")
    mix = sum(cpu * n for cpu, n in decoding.values()) / sum(n for _, n in decoding.values())
    print(f"CPU per 4.1 s chunk: model {1000 * model_cpu:.1f} ms; decoding, resampling and log-mel "
          + ", ".join(f"{kind} {1000 * cpu:.2f}" for kind, (cpu, _) in decoding.items())
          + f" ms (this mix {1000 * mix:.2f}): overlapped, at most {model_cpu / (model_cpu + mix):.0%} of the "
          "model's rate on this mix, " + ", ".join(f"{kind} {model_cpu / (model_cpu + cpu):.0%}"
                                                   for kind, (cpu, _) in decoding.items()))
    if FLAGS.long_hours:
        print(f"peak RSS, one {FLAGS.long_hours:g} h 48 kHz stereo FLAC ({long_chunks} chunks): {long_rss[0]:.0f} MB "
              f"({long_rss[1]:.0f} s)")


if __name__ == "__main__":
    runner.run_main(main, "bench_embed_library.py")
