"""256-frame crops of a stored (T, 48) mel inside tf.data: the training reader's random crop (and its second
views'), and the evaluation's centred chunk or consecutive chunks."""

from __future__ import annotations

import tensorflow as tf

from cmir_tf.constants import CHUNK_FRAMES, N_MELS


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
