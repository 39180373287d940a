"""Cross-replica helpers shared by the losses: gathering rows, and means over rows that count.

Every loss returns, on each of R replicas, a value whose mean over replicas is the single-device loss of the
global batch, and whose gradients of `loss / R`, summed over replicas, are that loss's gradients.
"""

from __future__ import annotations

import tensorflow as tf


def gather_from_replicas(x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Returns (all replicas' rows (R * n, ...), this replica's first row index in them)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return x, tf.constant(0, tf.int32)
    gathered = context.all_gather(x, axis=0)
    offset = tf.cast(context.replica_id_in_sync_group, tf.int32) * tf.shape(x)[0]
    return gathered, offset


def masked_replica_mean(values: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """The mean of `values` over the rows of every replica where `mask` is set, as this replica's share.

    Args:
      values: (n,) float per-row losses of this replica; rows outside `mask` may hold any finite value.
      mask: (n,) bool, the rows that count.

    Returns:
      Scalar `R * sum(values[mask]) / (rows set in every replica's mask)`: the replicas' mean is the global
      masked mean; 0 (not NaN) when no replica has a row that counts.
    """
    values = tf.convert_to_tensor(values)
    local_sum = tf.reduce_sum(tf.where(mask, values, tf.zeros_like(values)))
    count = tf.reduce_sum(tf.cast(mask, values.dtype))
    context = tf.distribute.get_replica_context()
    replicas = 1 if context is None else context.num_replicas_in_sync
    if replicas > 1:
        count = context.all_reduce(tf.distribute.ReduceOp.SUM, count)
    return tf.math.divide_no_nan(local_sum * replicas, tf.stop_gradient(count))
