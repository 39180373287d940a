"""The `tf.train.Example` schema of prepared songs (ARCHITECTURE.md): encoding in numpy, parsing in TF.

Features: `mel` bytes of float16 (T, 48) time-major dB, `mel_shape` int64 [T, 48], `genre_ids` int64 1..10
values (vocabulary ids from 1), `cf` float 301 (zeros where absent), `has_cf` int64 0/1, `song_id` int64,
`tag_ids` int64 0..10 values (the song's playlist-tag bag, tag ids from 1) and `has_tags` int64 0/1. Records of
format 2 (before tags) have neither: they parse as a song without tags.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from cmir_tf.constants import CF_DIM, MAX_GENRES, MAX_TAGS, N_MELS

FEATURES = {
    "mel": tf.io.FixedLenFeature([], tf.string),
    "mel_shape": tf.io.FixedLenFeature([2], tf.int64),
    "genre_ids": tf.io.VarLenFeature(tf.int64),
    "cf": tf.io.FixedLenFeature([CF_DIM], tf.float32),
    "has_cf": tf.io.FixedLenFeature([], tf.int64),
    "song_id": tf.io.FixedLenFeature([], tf.int64),
    "tag_ids": tf.io.VarLenFeature(tf.int64),
    "has_tags": tf.io.FixedLenFeature([], tf.int64, default_value=0),
}


def _int64(values: Sequence[int]) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=list(values)))


def encode_example(mel: np.ndarray, genre_ids: Sequence[int], cf: np.ndarray | None, song_id: int,
                   tag_ids: Sequence[int] = ()) -> bytes:
    """Serialises one song.

    Args:
      mel: (T, 48) dB, any float dtype; stored as little-endian float16.
      genre_ids: 1..10 vocabulary ids, each >= 1.
      cf: (301,) song vector, or None for songs without one (test songs; zeros and `has_cf` 0 are stored).
      song_id: Melon song id.
      tag_ids: 0..10 tag vocabulary ids, each >= 1 (none: `has_tags` 0).
    """
    if mel.ndim != 2 or mel.shape[1] != N_MELS:
        raise ValueError(f"mel must be (T, {N_MELS}), got {mel.shape}")
    if not 1 <= len(genre_ids) <= MAX_GENRES or min(genre_ids) < 1:
        raise ValueError(f"genre_ids must hold 1..{MAX_GENRES} ids >= 1, got {list(genre_ids)}")
    if len(tag_ids) > MAX_TAGS or (len(tag_ids) and min(tag_ids) < 1):
        raise ValueError(f"tag_ids must hold 0..{MAX_TAGS} ids >= 1, got {list(tag_ids)}")
    if cf is not None and cf.shape != (CF_DIM,):
        raise ValueError(f"cf must be ({CF_DIM},), got {cf.shape}")
    feature = {
        "mel": tf.train.Feature(bytes_list=tf.train.BytesList(value=[mel.astype("<f2").tobytes()])),
        "mel_shape": _int64(mel.shape),
        "genre_ids": _int64(genre_ids),
        "cf": tf.train.Feature(
            float_list=tf.train.FloatList(value=np.zeros(CF_DIM, np.float32) if cf is None else cf)
        ),
        "has_cf": _int64([int(cf is not None)]),
        "song_id": _int64([song_id]),
        "tag_ids": _int64(tag_ids),
        "has_tags": _int64([int(len(tag_ids) > 0)]),
    }
    # deterministic=True: map entries in key order, so shards are byte-identical across processes.
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


def parse_example(serialized: tf.Tensor, mel_dtype: tf.DType = tf.float32) -> dict[str, tf.Tensor]:
    """Parses one serialised song.

    Args:
      serialized: a scalar string tensor.
      mel_dtype: dtype of the returned mel; the reader asks for float16 and casts after cropping.

    Returns:
      dict `mel` (T, 48) `mel_dtype` (exactly the stored float16 values), `genre_ids` (10,) int32
      zero-padded, `cf` (301,) float32, `has_cf` () float32 0/1, `song_id` () int64, `tag_ids` (10,) int32
      zero-padded, `has_tags` () float32 0/1.
    """
    features = tf.io.parse_single_example(serialized, FEATURES)
    mel = tf.io.decode_raw(features["mel"], tf.float16, little_endian=True)
    mel = tf.ensure_shape(tf.reshape(mel, features["mel_shape"]), [None, N_MELS])
    mel = tf.cast(mel, mel_dtype)
    return {
        "mel": mel,
        "genre_ids": _padded_ids(features["genre_ids"], MAX_GENRES),
        "cf": features["cf"],
        "has_cf": tf.cast(features["has_cf"], tf.float32),
        "song_id": features["song_id"],
        "tag_ids": _padded_ids(features["tag_ids"], MAX_TAGS),
        "has_tags": tf.cast(features["has_tags"], tf.float32),
    }


def _padded_ids(ids: tf.SparseTensor, width: int) -> tf.Tensor:
    """A variable-length int64 id list -> (width,) int32, zero-padded (longer lists cut)."""
    dense = tf.cast(tf.sparse.to_dense(ids), tf.int32)[:width]
    return tf.ensure_shape(tf.pad(dense, [[0, width - tf.shape(dense)[0]]]), [width])
