"""Symmetric NT-Xent (normalised temperature-scaled cross-entropy) between two modalities.

For N aligned pairs (a_i, b_i) the 2N vectors [a; b] are L2-normalised; row r's positive is its partner
(r + N mod 2N), every other row except itself is a negative, and

    loss = mean over r of  -log( exp(s(r, pos(r)) / tau) / sum_{c != r} exp(s(r, c) / tau) ),

with s the cosine similarity. This is the paper's L(a, b) + L(b, a) (eq. 9-12) as a mean over 2N rows.

Under a `tf.distribute` strategy with R > 1 replicas, called in replica context, each replica's rows are
scored against the vectors of *all* replicas (`all_gather`, which carries gradients back), and the function
returns this replica's share of the global mean (`masked_replica_mean`): the mean of the R replica losses is
the single-device loss of the global batch, and the sum of the R replicas' gradients of `loss / R` is its
gradient.

With a `mask` (e.g. `has_cf`: songs without a CF vector), pairs outside it are neither anchors nor negatives
(in any replica), and the loss is the mean over the rows of pairs inside it; 0 when there are none.
"""

from __future__ import annotations

import tensorflow as tf

from cmir_tf.losses.replicas import gather_from_replicas, masked_replica_mean


def nt_xent(z_a: tf.Tensor, z_b: tf.Tensor, temperature: float, mask: tf.Tensor | None = None) -> tf.Tensor:
    """Symmetric NT-Xent loss of aligned embeddings.

    Args:
      z_a: (N, D) embeddings of modality a (any float dtype; computed in float32, or float64 if given).
      z_b: (N, D) embeddings of modality b, row i paired with z_a's row i.
      temperature: softmax temperature tau > 0.
      mask: optional (N,) bool or 0/1, the pairs that take part; default all.

    Returns:
      Scalar float32 (float64 for float64 inputs): the mean over this replica's 2N rows (those of pairs in
      `mask`) of the negative log-probability of the positive, scaled as in `masked_replica_mean`.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    z_a, z_b = tf.convert_to_tensor(z_a), tf.convert_to_tensor(z_b)
    if z_a.shape.rank != 2 or z_b.shape.rank != 2:
        raise ValueError(f"nt_xent expects (N, D) inputs, got {z_a.shape} and {z_b.shape}")
    dtype = tf.float64 if tf.float64 in (z_a.dtype, z_b.dtype) else tf.float32  # never below float32
    a = tf.math.l2_normalize(tf.cast(z_a, dtype), axis=1)
    b = tf.math.l2_normalize(tf.cast(z_b, dtype), axis=1)
    n = tf.shape(a)[0]
    pair_mask = tf.ones([n], tf.bool) if mask is None else tf.cast(mask, tf.bool)
    all_a, offset = gather_from_replicas(a)
    all_b, _ = gather_from_replicas(b)
    all_mask = tf.cast(gather_from_replicas(tf.cast(pair_mask, tf.int32))[0], tf.bool)  # no bool all_gather
    n_global = tf.shape(all_a)[0]

    rows = tf.concat([a, b], axis=0)  # (2n, D): this replica's rows
    columns = tf.concat([all_a, all_b], axis=0)  # (2N, D): every replica's rows
    logits = tf.matmul(rows, columns, transpose_b=True) / temperature  # (2n, 2N)

    local = tf.range(n) + offset  # global index of this replica's pairs
    self_columns = tf.concat([local, local + n_global], axis=0)  # (2n,)
    positive_columns = tf.concat([local + n_global, local], axis=0)  # (2n,)
    is_self = tf.one_hot(self_columns, 2 * n_global, on_value=True, off_value=False)
    row_mask = tf.concat([pair_mask, pair_mask], axis=0)  # (2n,)
    column_mask = tf.concat([all_mask, all_mask], axis=0)  # (2N,)
    # Rows outside the mask keep every logit (finite values, no NaN gradients) and are left out of the mean.
    excluded = (is_self | ~column_mask[tf.newaxis, :]) & row_mask[:, tf.newaxis]
    logits = tf.where(excluded, tf.constant(-float("inf"), dtype), logits)

    positive_logits = tf.gather(logits, positive_columns, axis=1, batch_dims=1)  # (2n,)
    return masked_replica_mean(tf.reduce_logsumexp(logits, axis=1) - positive_logits, row_mask)
