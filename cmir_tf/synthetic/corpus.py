"""The synthetic demo corpus (what `make demo` uses; command: `cmir-corpus`, `cmir_tf.cli.corpus`).

Writes, deterministically for `--seed` (and independently of `--workers`):

  <output_dir>/melon/        Melon Playlist Dataset format: song_meta.json, genre_gn_all.json, train.json,
                             val.json, arena_mel/<id // 1000>/<id>.npy ((48, T) float16 dB, 16 kHz audio
                             rendered from genre recipes and turned into mels by `cmir_tf.audio`)
  <output_dir>/gtzan/genres/<genre>/<genre>.000NN.wav       (see `downstream`)
  <output_dir>/mtg-jamendo/split-0/*.tsv, mtg-jamendo/audio/NN/<id>.flac
  <output_dir>/corpus.json   sizes and flags

Everything is built in a temporary sibling folder and renamed into place when complete. Planted structure:
see `melon` and `downstream`.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import shutil
import time

import numpy as np
from tqdm import tqdm

from cmir_tf import errors
from cmir_tf.constants import SAMPLE_RATE
from cmir_tf.synthetic.downstream import gtzan_jobs, jamendo_corpus
from cmir_tf.synthetic.jobs import RenderJob, render_job, single_threaded_worker
from cmir_tf.synthetic.melon import melon_corpus


def _write_text(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def _render_all(jobs: list[tuple[RenderJob, str]], seed: int, workers: int) -> None:
    render = functools.partial(_render_rooted, seed=seed)
    with tqdm(total=len(jobs), desc="render", unit="file") as bar:
        if workers > 1:
            with multiprocessing.get_context("spawn").Pool(workers, initializer=single_threaded_worker) as pool:
                for _ in pool.imap_unordered(render, jobs, chunksize=8):
                    bar.update()
        else:
            for job in jobs:
                render(job)
                bar.update()


def _render_rooted(job_and_root: tuple[RenderJob, str], seed: int) -> None:
    render_job(*job_and_root, corpus_seed=seed)


def generate(
    output_dir: str,
    seed: int = 0,
    melon_songs: int = 2000,
    melon_playlists: int = 600,
    min_frames: int = 1250,
    max_frames: int = 1600,
    gtzan_per_genre: int = 100,
    gtzan_seconds: float = 8.0,
    jamendo_tracks: int = 300,
    jamendo_seconds: float = 10.0,
    workers: int = 1,
) -> dict:
    """Writes the demo corpus to `output_dir` (which must not exist or be empty); returns corpus.json."""
    if os.path.isdir(output_dir) and os.listdir(output_dir):
        raise errors.OutputExistsError(f"{output_dir} exists and is not empty")
    if not 256 <= min_frames <= max_frames:
        raise errors.ConfigError(f"need 256 <= min_frames <= max_frames, got {min_frames}, {max_frames}")
    if not 1 <= gtzan_per_genre <= 100:
        raise errors.ConfigError("gtzan_per_genre must be in 1..100 (GTZAN file numbers 00000..00099)")
    start = time.time()
    tmp = f"{os.path.abspath(output_dir).rstrip('/')}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    rng = np.random.default_rng(seed)
    melon_files, melon_jobs = melon_corpus(
        rng, melon_songs, melon_playlists, (min_frames, max_frames), SAMPLE_RATE
    )
    tsv_files, jamendo_jobs = jamendo_corpus(rng, jamendo_tracks, jamendo_seconds, SAMPLE_RATE)
    gtzan = gtzan_jobs(rng, gtzan_per_genre, gtzan_seconds)
    try:
        for name, content in melon_files.items():
            _write_text(os.path.join(tmp, "melon", name), json.dumps(content, ensure_ascii=False))
        for name, text in tsv_files.items():
            _write_text(os.path.join(tmp, "mtg-jamendo", name), text)
        jobs = [
            *((j, os.path.join(tmp, "melon")) for j in melon_jobs),
            *((j, os.path.join(tmp, "gtzan", "genres")) for j in gtzan),
            *((j, os.path.join(tmp, "mtg-jamendo")) for j in jamendo_jobs),
        ]
        _render_all(jobs, seed, workers)
        corpus = {
            "seed": seed,
            "melon": {
                "songs": melon_songs,
                "playlists": melon_playlists,
                "genre_codes": len(melon_files["genre_gn_all.json"]),
                "frames": [min_frames, max_frames],
            },
            "gtzan": {"genres": 10, "clips": 10 * gtzan_per_genre, "seconds": gtzan_seconds, "sample_rate": 22050},
            "mtg_jamendo": {"tracks": jamendo_tracks, "seconds": jamendo_seconds, "sample_rate": SAMPLE_RATE},
            "seconds_to_generate": round(time.time() - start, 1),
        }
        _write_text(os.path.join(tmp, "corpus.json"), json.dumps(corpus, indent=1))
        if os.path.isdir(output_dir):
            os.rmdir(output_dir)
        os.replace(tmp, output_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return corpus
