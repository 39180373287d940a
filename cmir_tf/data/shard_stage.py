"""Prepare's shard stage: the jobs (one per shard), the free-space check, and writing the shards not finished
yet in `--workers` processes (`shards.write_shard` writes one)."""

from __future__ import annotations

import math
import multiprocessing
import os
import shutil

import numpy as np
from absl import logging
from tqdm import tqdm

from cmir_tf import errors
from cmir_tf.constants import CF_DIM, N_MELS
from cmir_tf.data import shards, splits
from cmir_tf.data.atomic import write_json
from cmir_tf.data.checksum import sha256_file
from cmir_tf.data.prepare_config import PrepareConfig
from cmir_tf.data.prepared import PreparedFolder, read_json, shard_name

RECORD_OVERHEAD_BYTES = 230  # per record beyond the mel and CF floats: keys, genre and tag ids, id, framing
# (measured 211 with 10 genre ids, 10 two-byte tag ids and a 6-digit song id; 145 before tags)


class InsufficientSpaceError(errors.InputError, OSError):
    """The output's file system has less free space than the shards still to write need (exit status 1)."""


def shard_jobs(config: PrepareConfig, melon_dir: str, split_ids: dict, genre_ids: dict[int, list[int]],
               cf_rows: dict[int, int], tag_ids: dict[int, list[int]]) -> list[shards.ShardJob]:
    """One job per shard, about --shard_size_mb each (or --songs_per_shard), the songs of each split in an
    order drawn from (--seed, split), as TFDS does: ids that are neighbours (one album) end up far apart.

    `melon_dir` is the Melon-format folder whose `arena_mel/` holds the mels (a catalogue's view: `catalogue`).
    """
    folder = PreparedFolder(config.output_dir)
    layout_bytes = config.frames * N_MELS * 2 + CF_DIM * 4 + 100  # format 2's own estimate: fixes shard layouts
    per_shard = config.songs_per_shard or max(1, int(config.shard_size_mb * 1e6 // layout_bytes))
    jobs = []
    for split_index, split in enumerate(splits.SPLITS):
        order = np.random.default_rng([config.seed, split_index]).permutation(len(split_ids[split]))
        ids = [split_ids[split][i] for i in order]
        count = math.ceil(len(ids) / per_shard)
        for index in range(count):
            chunk = ids[index * per_shard : (index + 1) * per_shard]
            jobs.append(shards.ShardJob(
                path=folder.shard_path(shard_name(split, index, count)), song_ids=chunk,
                genre_ids=[genre_ids[s] for s in chunk], cf_rows=[cf_rows.get(s, -1) for s in chunk],
                tag_ids=[tag_ids.get(s, []) for s in chunk], cf_path=folder.cf_vectors_path, melon_dir=melon_dir,
                frames=config.frames, short=config.short))
    return jobs


def bytes_per_song(frames: int) -> int:
    """Upper bound of one record's bytes: a float16 (frames, 48) mel, 301 float32 CF values, the rest.

    Exact for songs of at least `frames` frames (Melon's 1,876-frame mels at the default 1,300); shorter
    songs take less.
    """
    return frames * N_MELS * 2 + CF_DIM * 4 + RECORD_OVERHEAD_BYTES


def size_text(n: float) -> str:
    """`n` bytes as "589 kB", "80.5 GB" (3 significant digits, powers of 1000)."""
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} TB"


def _shard_is_finished(job: shards.ShardJob, stats_path: str, checksums: bool) -> bool:
    """Whether `job`'s shard exists with the size (and, with `checksums`, the sha256) of its record."""
    if not (os.path.exists(stats_path) and os.path.exists(job.path)):
        return False
    stats = read_json(stats_path)
    if os.path.getsize(job.path) != stats["bytes"]:
        return False
    return not checksums or sha256_file(job.path) == stats["sha256"]


def check_free_space(config: PrepareConfig, pending: list[shards.ShardJob]) -> tuple[int, int]:
    """(estimated bytes of the shards to write, free bytes); raises `InsufficientSpaceError` when short."""
    needed = sum(len(job.song_ids) for job in pending) * bytes_per_song(config.frames)
    free = shutil.disk_usage(config.output_dir).free
    if needed > free:
        raise InsufficientSpaceError(
            f"{config.output_dir} has {size_text(free)} free but the shards to write need about "
            f"{size_text(needed)} ({bytes_per_song(config.frames)} bytes per song at --frames={config.frames}): "
            "free space or lower --frames (docs/data.md)"
        )
    return needed, free


def write_shards(config: PrepareConfig, jobs: list[shards.ShardJob]) -> list[dict]:
    """Writes the shards not finished yet (`--workers` processes) and returns all shards' statistics.

    A shard whose file is missing, or differs in size (with --verify_data: in sha256) from its record, is
    (re)written.
    """
    folder = PreparedFolder(config.output_dir)

    def stats_path(job):
        return folder.shard_stats_path(os.path.basename(job.path))

    pending = [j for j in jobs if not _shard_is_finished(j, stats_path(j), config.verify_data)]
    damaged = sum(os.path.exists(j.path) for j in pending)
    needed, free = check_free_space(config, pending)
    logging.info("%d shards, %d to write (%d damaged), about %s of %s free", len(jobs), len(pending), damaged,
                 size_text(needed), size_text(free))
    bar = tqdm(total=len(pending), desc="write shards", unit="shard")
    by_name = {os.path.basename(j.path): j for j in pending}
    if config.workers > 1 and len(pending) > 1:
        with multiprocessing.get_context("spawn").Pool(config.workers) as pool:
            for stats in pool.imap_unordered(shards.write_shard, pending):
                write_json(stats_path(by_name[stats["name"]]), stats)
                bar.update()
    else:
        for job in pending:
            write_json(stats_path(job), shards.write_shard(job))
            bar.update()
    bar.close()
    return [read_json(stats_path(j)) for j in jobs]
