"""Ranking and tagging metrics used by the downstream protocols.

Ranking metrics take a binary relevance matrix `relevance (n_queries, k)`: `relevance[q, j]` is 1 when the
item ranked at position j + 1 for query q is relevant, and `n_relevant (n_queries,)`, the number of relevant
items of each query (all of them, retrieved or not). With positions i = 1..k:

  DCG@k  = sum_i rel_i / log2(i + 1)
  IDCG@k = sum_{i=1}^{min(R, k)} 1 / log2(i + 1)            (R = n_relevant)
  NDCG@k = DCG@k / IDCG@k
  AP@k   = (1 / min(R, k)) * sum_i P@i * rel_i,   P@i = (1/i) sum_{j<=i} rel_j
  MAP@k  = mean over queries of AP@k

Queries with R = 0 are rejected (their metrics are undefined).
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as sk_metrics


def _check_ranking_inputs(relevance: np.ndarray, n_relevant: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    relevance = np.asarray(relevance, dtype=np.float64)
    n_relevant = np.asarray(n_relevant, dtype=np.int64)
    if relevance.ndim != 2 or n_relevant.shape != relevance.shape[:1]:
        raise ValueError(
            f"expected relevance (n_queries, k) and n_relevant (n_queries,), got {relevance.shape} "
            f"and {n_relevant.shape}")
    if np.any(n_relevant <= 0):
        raise ValueError("every query needs at least one relevant item")
    if np.any(relevance.sum(axis=1) > n_relevant):
        raise ValueError("a query has more relevant items ranked than n_relevant says it has")
    return relevance, n_relevant


def ndcg_at_k(relevance: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    """NDCG@k per query (k = relevance.shape[1]), shape (n_queries,), binary gains, log2 discount."""
    relevance, n_relevant = _check_ranking_inputs(relevance, n_relevant)
    k = relevance.shape[1]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = relevance @ discounts
    ideal = np.cumsum(discounts)[np.minimum(n_relevant, k) - 1]
    return dcg / ideal


def average_precision_at_k(relevance: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    """AP@k per query (k = relevance.shape[1]), shape (n_queries,), normalised by min(n_relevant, k)."""
    relevance, n_relevant = _check_ranking_inputs(relevance, n_relevant)
    k = relevance.shape[1]
    precision = np.cumsum(relevance, axis=1) / np.arange(1, k + 1)
    return (precision * relevance).sum(axis=1) / np.minimum(n_relevant, k)


def relevance_matrix(ranked: np.ndarray, relevant: list[set[int]]) -> np.ndarray:
    """Binary relevance (n_queries, k) of ranked item ids `ranked (n_queries, k)` (-1 = empty slot)."""
    ranked = np.asarray(ranked)
    out = np.zeros(ranked.shape, dtype=np.float32)
    for q, (row, truth) in enumerate(zip(ranked, relevant)):
        out[q] = [item in truth for item in row.tolist()]
    return out


def macro_tagging_scores(y_true: np.ndarray, y_score: np.ndarray) -> dict[str, float]:
    """Macro ROC-AUC and PR-AUC (average precision) over tags, as sklearn computes them.

    Args:
      y_true: (n_tracks, n_tags) binary labels.
      y_score: (n_tracks, n_tags) scores (e.g. sigmoid outputs).

    Returns:
      `roc_auc`, `pr_auc` (unweighted means over the scored tags) and `n_tags_scored`. Tags with only
      positives or only negatives in `y_true` have no ROC-AUC and are left out of both means.
    """
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score)
    if y_true.shape != y_score.shape or y_true.ndim != 2:
        raise ValueError(f"expected two equal (n_tracks, n_tags) arrays, got {y_true.shape}, {y_score.shape}")
    positives = y_true.sum(axis=0)
    scored = (positives > 0) & (positives < y_true.shape[0])
    if not scored.any():
        raise ValueError("no tag has both positive and negative tracks")
    return {
        "roc_auc": float(sk_metrics.roc_auc_score(y_true[:, scored], y_score[:, scored], average="macro")),
        "pr_auc": float(sk_metrics.average_precision_score(y_true[:, scored], y_score[:, scored],
                                                           average="macro")),
        "n_tags_scored": int(scored.sum()),
    }


def tagging_against_random(y_true: np.ndarray, y_score: np.ndarray, seed: int = 0) -> dict:
    """`macro_tagging_scores` of `y_score`, with `random_baseline` {roc_auc, pr_auc}: those of standard-normal
    scores of the same (n_tracks, n_tags) shape, drawn with `seed`."""
    baseline = macro_tagging_scores(y_true, np.random.default_rng(seed).standard_normal(np.shape(y_score)))
    return {**macro_tagging_scores(y_true, y_score),
            "random_baseline": {"roc_auc": baseline["roc_auc"], "pr_auc": baseline["pr_auc"]}}
