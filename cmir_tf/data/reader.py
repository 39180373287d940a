"""`make_dataset`: prepared TFRecord shards -> batches of 256-frame mel chunks, genre ids and CF vectors.

Determinism (what exact resume relies on): for a given (data_dir, split, seed, epoch, input_context) a
training dataset always yields the same batches in the same order. The shard order is a permutation drawn
from (seed, epoch), shards are interleaved in a fixed order, records are numbered before a shuffle seeded by
(seed, epoch) that is not reshuffled, and each record's crop offset is a stateless random draw keyed on
(seed, epoch, record number). `views` adds second views of each song for the intra-modal terms (`partners.py`:
another crop of the same record, or a crop of a partner song drawn per (seed, epoch, record number)).
`skip_batches=k` drops the first k * batch_size shuffled records before they
are parsed, and the rest of the stream is exactly what an un-skipped dataset yields after k batches. Call
once per epoch; `repeat` is not applied.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from cmir_tf.constants import CHUNK_FRAMES, N_MELS
from cmir_tf.data import partners, tfrecords
from cmir_tf.data.prepared import PreparedFolder

CHUNK_MODES = ("center", "all")


def _epoch_seed(seed: int, epoch: int) -> int:
    """A seed in [0, 2**31) mixing (seed, epoch), for the file permutation, the shuffle and the crops."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0] >> 1)


def random_crop(mel: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """(T >= 256, 48) -> (256, 48) starting at a stateless uniform offset in [0, T - 256]; `seed` (2,) int."""
    offset = tf.random.stateless_uniform([], seed, maxval=tf.shape(mel)[0] - CHUNK_FRAMES + 1, dtype=tf.int32)
    return tf.ensure_shape(mel[offset : offset + CHUNK_FRAMES], [CHUNK_FRAMES, N_MELS])


def center_crop(mel: tf.Tensor) -> tf.Tensor:
    """(T >= 256, 48) -> the centred (256, 48) chunk (offset (T - 256) // 2)."""
    offset = (tf.shape(mel)[0] - CHUNK_FRAMES) // 2
    return tf.ensure_shape(mel[offset : offset + CHUNK_FRAMES], [CHUNK_FRAMES, N_MELS])


def all_chunks(mel: tf.Tensor) -> tf.Tensor:
    """(T >= 256, 48) -> (T // 256, 256, 48) consecutive non-overlapping chunks; the last T % 256 frames dropped."""
    n = tf.shape(mel)[0] // CHUNK_FRAMES
    return tf.reshape(mel[: n * CHUNK_FRAMES], [n, CHUNK_FRAMES, N_MELS])


def make_dataset(
    data_dir: str,
    split: str,
    batch_size: int,
    *,
    training: bool,
    seed: int,
    epoch: int = 0,
    skip_batches: int = 0,
    input_context: tf.distribute.InputContext | None = None,
    chunks: str = "center",
    shuffle_buffer: int = 1024,
    views: Sequence[str] = (),
) -> tf.data.Dataset:
    """One epoch of `split` from a prepared directory.

    Args:
      data_dir: output of `python -m cmir_tf prepare`.
      split: "train", "validation" or "test".
      batch_size: global batch size; with `input_context`, each pipeline gets the per-replica size.
      training: True: shuffled, a random 256-frame crop per song, incomplete last batch dropped.
        False: files and records in order, no shuffle, `chunks` crops, last batch kept.
      seed, epoch: determine shuffle order and crops (see the module docstring).
      skip_batches: batches to skip when resuming mid-epoch; before parsing, except with `chunks="all"`.
      input_context: from `strategy.distribute_datasets_from_function`; shards go to pipelines whole when
        there are at least as many shards as pipelines, else records are split round-robin.
      chunks: evaluation only: "center" (one centred chunk per song) or "all" (every whole chunk; the
        song's other features repeated).
      shuffle_buffer: records in the shuffle buffer (about 125 kB each at 1,300 frames).
      views: second views for the intra-modal terms, among `partners.VIEWS` ("self", "playlist", "artist",
        "genre"); train and validation splits, `chunks="center"` only. Each adds `partners.view_key(v)`
        (B, 256, 48) float32 and, for partner kinds, `partners.mask_key(v)` (B,) float32 0/1.

    Returns:
      A dataset of dicts `mel` (B, 256, 48) float32 dB, `genre_ids` (B, 10) int32 (0 = padding), `cf`
      (B, 301) float32, `has_cf` (B,) float32 0/1, `song_id` (B,) int64, `tag_ids` (B, 10) int32 (the
      playlist-tag bag, 0 = padding), `has_tags` (B,) float32 0/1.
    """
    if chunks not in CHUNK_MODES:
        raise ValueError(f"chunks must be one of {CHUNK_MODES}, got {chunks!r}")
    files = PreparedFolder(data_dir).shard_files(split)
    epoch_seed = _epoch_seed(seed, epoch)
    if views and chunks != "center":
        raise ValueError("views need chunks='center'")
    record_views = partners.RecordViews(data_dir, split, views, epoch_seed) if views else None
    if training:
        files = [files[i] for i in np.random.default_rng(epoch_seed).permutation(len(files))]
    pipelines, pipeline_id = 1, 0
    if input_context is not None:
        pipelines, pipeline_id = input_context.num_input_pipelines, input_context.input_pipeline_id
        batch_size = input_context.get_per_replica_batch_size(batch_size)
    shard_records = pipelines > len(files)
    if pipelines > 1 and not shard_records:
        files = files[pipeline_id::pipelines]

    ds = tf.data.Dataset.from_tensor_slices(files).interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(len(files), 8),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    if shard_records:
        ds = ds.shard(pipelines, pipeline_id)
    if training:
        ds = ds.enumerate().shuffle(shuffle_buffer, seed=epoch_seed, reshuffle_each_iteration=False)
        ds = ds.skip(skip_batches * batch_size)

        def parse(index, serialized):
            example = tfrecords.parse_example(serialized, mel_dtype=tf.float16)  # cast after the crop
            crop_seed = tf.stack([tf.constant(epoch_seed, tf.int64), index])
            views = record_views(example["mel"], example["song_id"], index, crop_seed) if record_views else {}
            return {**example, "mel": tf.cast(random_crop(example["mel"], crop_seed), tf.float32), **views}

    else:
        ds = ds.enumerate()  # record numbers seed the views
        if chunks == "center":
            ds = ds.skip(skip_batches * batch_size)

        def parse(index, serialized):
            example = tfrecords.parse_example(serialized, mel_dtype=tf.float16)
            crop = center_crop if chunks == "center" else all_chunks
            crop_seed = tf.stack([tf.constant(epoch_seed, tf.int64), index])
            views = record_views(example["mel"], example["song_id"], index, crop_seed) if record_views else {}
            return {**example, "mel": tf.cast(crop(example["mel"]), tf.float32), **views}

    ds = ds.map(parse, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if not training and chunks == "all":
        ds = ds.flat_map(_chunk_rows)
    ds = ds.batch(batch_size, drop_remainder=training, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    if not training and chunks == "all":
        ds = ds.skip(skip_batches)  # chunks per song vary: skip whole batches, after parsing
    return ds.prefetch(tf.data.AUTOTUNE)


def _chunk_rows(example: dict[str, tf.Tensor]) -> tf.data.Dataset:
    """One element per chunk of `example["mel"]` (n, 256, 48), the other features repeated."""
    n = tf.shape(example["mel"])[0]
    repeated = {k: tf.repeat(v[tf.newaxis], n, axis=0) for k, v in example.items() if k != "mel"}
    return tf.data.Dataset.from_tensor_slices({**repeated, "mel": example["mel"]})
