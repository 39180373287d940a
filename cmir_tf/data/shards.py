"""Writing one TFRecord shard of songs: all of it or nothing, bad mels counted and skipped."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tensorflow as tf

from cmir_tf.data import melon, tfrecords
from cmir_tf.data.atomic import atomic_path, tf_write_errors_named
from cmir_tf.data.checksum import sha256_file


@dataclasses.dataclass(frozen=True)
class ShardJob:
    """One shard: its songs in record order, their genre ids, rows of the CF matrix (-1 = no CF vector) and
    playlist-tag ids (empty: no tags).

    `cf_path` is a (n_items, 301) float32 `.npy` read memory-mapped, so a job carries no vectors.
    """

    path: str
    song_ids: list[int]
    genre_ids: list[list[int]]
    cf_rows: list[int]
    cf_path: str
    melon_dir: str
    frames: int
    short: str
    tag_ids: list[list[int]] = dataclasses.field(default_factory=list)  # default: no song has tags


def write_shard(job: ShardJob) -> dict:
    """Writes `job.path` (via a temporary name) and returns its statistics.

    Returns:
      {"name", "count" (records written), "sha256", "bytes", "skipped": {reason: [song ids]},
       "short_padded": [song ids]}.
    """
    skipped: dict[str, list[int]] = {}
    padded = []
    count = 0
    cf = np.load(job.cf_path, mmap_mode="r")
    with atomic_path(job.path) as tmp, tf_write_errors_named(job.path):
        with tf.io.TFRecordWriter(tmp) as writer:
            for i, song_id in enumerate(job.song_ids):
                try:
                    mel, was_padded = melon.load_mel(melon.mel_path(job.melon_dir, song_id), job.short)
                except melon.BadMelError as e:
                    skipped.setdefault(e.reason, []).append(song_id)
                    continue
                if was_padded:
                    padded.append(song_id)
                row = job.cf_rows[i]
                vector = np.asarray(cf[row]) if row >= 0 else None
                tags = job.tag_ids[i] if job.tag_ids else ()
                writer.write(tfrecords.encode_example(mel[: job.frames], job.genre_ids[i], vector, song_id, tags))
                count += 1
        checksum, size = sha256_file(tmp), os.path.getsize(tmp)
    return {
        "name": os.path.basename(job.path),
        "count": count,
        "sha256": checksum,
        "bytes": size,
        "skipped": skipped,
        "short_padded": padded,
    }
