"""Losses of the baselines that predict a modality from the audio embedding (`bline_*` variants)."""

from __future__ import annotations

import tensorflow as tf

from cmir_tf.losses.replicas import masked_replica_mean


def genre_multi_hot(genre_ids: tf.Tensor, vocab_rows: int) -> tf.Tensor:
    """(batch, Tw) int genre ids (0 = padding) -> (batch, vocab_rows - 1) float32 multi-hot targets."""
    one_hot = tf.one_hot(genre_ids, vocab_rows, dtype=tf.float32)  # (batch, Tw, V + 1)
    return tf.reduce_max(one_hot, axis=1)[:, 1:]


def genre_prediction_loss(logits: tf.Tensor, genre_ids: tf.Tensor) -> tf.Tensor:
    """Mean sigmoid cross-entropy between (batch, V) genre logits and the songs' multi-hot genres."""
    targets = genre_multi_hot(genre_ids, logits.shape[-1] + 1)
    losses = tf.nn.sigmoid_cross_entropy_with_logits(labels=targets, logits=tf.cast(logits, tf.float32))
    return tf.reduce_mean(losses)


def cf_regression_loss(predicted: tf.Tensor, cf: tf.Tensor, has_cf: tf.Tensor | None = None) -> tf.Tensor:
    """Mean squared error between (batch, 301) predicted and true CF vectors, over the songs with a CF vector.

    Args:
      predicted, cf: (batch, 301).
      has_cf: optional (batch,) bool or 0/1; rows without a CF vector (zeros stored) are left out. The mean
        is over every replica's counted rows (`masked_replica_mean`); 0 when there are none.
    """
    row_errors = tf.reduce_mean(tf.square(tf.cast(predicted, tf.float32) - tf.cast(cf, tf.float32)), axis=1)
    mask = tf.ones_like(row_errors, tf.bool) if has_cf is None else tf.cast(has_cf, tf.bool)
    return masked_replica_mean(row_errors, mask)
