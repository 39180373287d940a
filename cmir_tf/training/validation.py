"""Validation measures of the shared embedding space, computed within validation batches.

- retrieval top-k (audio -> genre, audio -> playlist): the fraction of a batch's audio embeddings whose own
  partner is among the k most cosine-similar partners of the batch. Ties count against the query (songs with
  the same genre set share one genre embedding: a tie is not a hit). Audio -> playlist uses only the songs
  with a CF vector (`has_cf`), as queries and as candidates;
- alignment (Wang & Isola 2020): mean squared distance between L2-normalised positive pairs (lower is better);
- uniformity: log of the mean Gaussian potential exp(-2 ||u - v||^2) over distinct pairs of L2-normalised audio
  embeddings (lower is more uniform).
"""

from __future__ import annotations

import tensorflow as tf


TIE_TOLERANCE = 1e-6  # cosine similarities this close are ties (float32 round-off of equal embeddings)


def retrieval_hits(queries: tf.Tensor, keys: tf.Tensor, k: int) -> tf.Tensor:
    """(N, D) queries, (N, D) keys paired row by row -> (N,) float32, 1 where the partner is in the top k.

    Ranked pessimistically: every other key at least as similar as the partner (within `TIE_TOLERANCE`)
    ranks above it.
    """
    q = tf.math.l2_normalize(tf.cast(queries, tf.float32), axis=1)
    c = tf.math.l2_normalize(tf.cast(keys, tf.float32), axis=1)
    similarity = tf.matmul(q, c, transpose_b=True)  # (N, N)
    own = tf.linalg.diag_part(similarity)[:, None]
    at_least_as_similar = tf.reduce_sum(tf.cast(similarity >= own - TIE_TOLERANCE, tf.int32), axis=1)
    rank = at_least_as_similar - 1  # the partner itself is among them
    return tf.cast(rank < k, tf.float32)


def alignment(z_a: tf.Tensor, z_b: tf.Tensor) -> tf.Tensor:
    """Mean over N pairs of ||a/|a| - b/|b| ||^2 (scalar float32, in [0, 4])."""
    a = tf.math.l2_normalize(tf.cast(z_a, tf.float32), axis=1)
    b = tf.math.l2_normalize(tf.cast(z_b, tf.float32), axis=1)
    return tf.reduce_mean(tf.reduce_sum(tf.square(a - b), axis=1))


def uniformity(z: tf.Tensor) -> tf.Tensor:
    """log mean over distinct pairs (i != j) of exp(-2 ||z_i - z_j||^2), z L2-normalised (scalar, in [-4, 0])."""
    u = tf.math.l2_normalize(tf.cast(z, tf.float32), axis=1)
    squared = tf.maximum(2.0 - 2.0 * tf.matmul(u, u, transpose_b=True), 0.0)  # (N, N) squared distances
    n = tf.shape(u)[0]
    off_diagonal = tf.logical_not(tf.eye(n, dtype=tf.bool))
    return tf.math.log(tf.reduce_mean(tf.boolean_mask(tf.exp(-2.0 * squared), off_diagonal)))


def embedding_space_measures(
    embeddings: dict[str, tf.Tensor], has_cf: tf.Tensor | None = None
) -> dict[str, tf.Tensor]:
    """Measures for one validation batch of `CrossModalModel` outputs (`audio`, and `genre`/`cf` if present).

    `has_cf` (N,) 0/1 marks the songs with a CF vector; the audio -> playlist measures use only those (NaN for
    a batch with none); default all.
    """
    audio = embeddings["audio"]
    measures = {"uniformity/audio": uniformity(audio)}
    for modality, label in (("genre", "audio_to_genre"), ("cf", "audio_to_playlist")):
        if modality not in embeddings:
            continue
        partner = embeddings[modality]
        if modality == "cf" and has_cf is not None:
            keep = tf.cast(has_cf, tf.bool)
            audio, partner = tf.boolean_mask(embeddings["audio"], keep), tf.boolean_mask(partner, keep)
        measures[f"retrieval_top1/{label}"] = tf.reduce_mean(retrieval_hits(audio, partner, 1))
        measures[f"retrieval_top5/{label}"] = tf.reduce_mean(retrieval_hits(audio, partner, 5))
        measures[f"alignment/{label}"] = alignment(audio, partner)
    return measures
