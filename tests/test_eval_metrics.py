"""Ranking and tagging metrics against hand-computed values and sklearn."""

import numpy as np
import pytest
from sklearn import metrics as sk

from cmir_tf.evaluation import metrics


def test_ndcg_and_ap_by_hand():
    # Ranked: relevant, not, relevant; 2 relevant items in total.
    relevance = np.array([[1, 0, 1]])
    dcg = 1 + 1 / np.log2(4)
    idcg = 1 + 1 / np.log2(3)
    np.testing.assert_allclose(metrics.ndcg_at_k(relevance, [2]), [dcg / idcg])
    np.testing.assert_allclose(metrics.average_precision_at_k(relevance, [2]), [(1 + 2 / 3) / 2])
    # 5 relevant items but k = 3: AP normalised by min(5, 3), IDCG over 3 positions.
    np.testing.assert_allclose(metrics.average_precision_at_k(relevance, [5]), [(1 + 2 / 3) / 3])
    np.testing.assert_allclose(metrics.ndcg_at_k(relevance, [5]), [dcg / (idcg + 1 / np.log2(4))])


def test_perfect_and_empty_rankings():
    np.testing.assert_allclose(metrics.ndcg_at_k(np.array([[1, 1, 0], [0, 0, 0]]), [2, 4]), [1.0, 0.0])
    np.testing.assert_allclose(metrics.average_precision_at_k(np.array([[1, 1, 0], [0, 0, 0]]), [2, 4]), [1.0, 0.0])


def test_ranking_metrics_match_sklearn_on_full_rankings():
    rng = np.random.default_rng(0)
    for _ in range(20):
        truth = (rng.random(30) < 0.2).astype(int)
        truth[rng.integers(30)] = 1
        scores = rng.random(30)
        order = np.argsort(-scores)
        relevance = truth[order][None, :]
        n_relevant = [truth.sum()]
        np.testing.assert_allclose(metrics.ndcg_at_k(relevance, n_relevant),
                                   [sk.ndcg_score(truth[None, :], scores[None, :])], rtol=1e-6)
        np.testing.assert_allclose(metrics.average_precision_at_k(relevance, n_relevant),
                                   [sk.average_precision_score(truth, scores)], rtol=1e-6)


def test_ranking_metrics_reject_bad_input():
    with pytest.raises(ValueError, match="at least one relevant"):
        metrics.ndcg_at_k(np.array([[0, 0]]), [0])
    with pytest.raises(ValueError, match="more relevant"):
        metrics.average_precision_at_k(np.array([[1, 1]]), [1])


def test_relevance_matrix_ignores_padding():
    ranked = np.array([[5, 3, -1], [1, 2, 3]])
    np.testing.assert_array_equal(metrics.relevance_matrix(ranked, [{3, 9}, {1, 3}]), [[0, 1, 0], [1, 0, 1]])


def test_macro_tagging_scores_match_sklearn_and_drop_constant_tags():
    rng = np.random.default_rng(1)
    y_true = (rng.random((50, 4)) < 0.3).astype(int)
    y_true[:, 0] = np.arange(50) % 2
    y_score = rng.random((50, 4)) + 0.5 * y_true
    expected = {"roc_auc": sk.roc_auc_score(y_true, y_score, average="macro"),
                "pr_auc": sk.average_precision_score(y_true, y_score, average="macro"), "n_tags_scored": 4}
    assert metrics.macro_tagging_scores(y_true, y_score) == pytest.approx(expected)
    with_constant = np.concatenate([y_true, np.zeros((50, 1), int)], axis=1)
    scores = np.concatenate([y_score, rng.random((50, 1))], axis=1)
    assert metrics.macro_tagging_scores(with_constant, scores) == pytest.approx(expected)
