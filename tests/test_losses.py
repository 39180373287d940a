"""NT-Xent: against a float64 reference, closed forms, low precision and cross-replica equality."""

import numpy as np
import pytest
import tensorflow as tf

from cmir_tf.losses import cf_regression_loss, genre_multi_hot, genre_prediction_loss, nt_xent


def reference_nt_xent(z_a: np.ndarray, z_b: np.ndarray, temperature: float) -> float:
    """Float64 NT-Xent written from the definition, row by row."""
    z = np.concatenate([z_a, z_b]).astype(np.float64)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    n2 = len(z)
    similarity = z @ z.T / temperature
    losses = []
    for r in range(n2):
        positive = (r + n2 // 2) % n2
        others = [c for c in range(n2) if c != r]
        denominator = np.sum(np.exp(similarity[r, others]))
        losses.append(-np.log(np.exp(similarity[r, positive]) / denominator))
    return float(np.mean(losses))


@pytest.mark.parametrize("n,d,temperature", [(4, 8, 0.1), (16, 128, 0.5), (7, 3, 1.0)])
def test_nt_xent_matches_float64_reference(n, d, temperature):
    rng = np.random.default_rng(n * d)
    z_a, z_b = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    got = nt_xent(tf.constant(z_a, tf.float32), tf.constant(z_b, tf.float32), temperature)
    assert got.dtype == tf.float32
    np.testing.assert_allclose(got.numpy(), reference_nt_xent(z_a, z_b, temperature), rtol=1e-5, atol=1e-5)


def test_nt_xent_perfect_alignment_closed_form():
    # Orthonormal pairs: positive similarity 1, every negative 0 -> log(1 + (2N - 2) exp(-1 / tau)).
    n, tau = 5, 0.5
    z = np.eye(n, 16, dtype=np.float32)
    expected = np.log1p((2 * n - 2) * np.exp(-1 / tau))
    np.testing.assert_allclose(nt_xent(z, z, tau).numpy(), expected, rtol=1e-5)


def test_nt_xent_identical_rows_closed_form():
    # All 2N rows equal: the positive is one of 2N - 1 equally likely columns -> log(2N - 1).
    n = 6
    z = np.ones((n, 4), np.float32)
    np.testing.assert_allclose(nt_xent(z, z, 0.2).numpy(), np.log(2 * n - 1), rtol=1e-6)


@pytest.mark.parametrize("dtype", [tf.bfloat16, tf.float16])
def test_nt_xent_low_precision_inputs_are_computed_in_float32(dtype):
    rng = np.random.default_rng(0)
    z_a = tf.cast(rng.normal(size=(32, 128)), dtype)
    z_b = tf.cast(z_a, tf.float32) + tf.constant(0.3 * rng.normal(size=(32, 128)), tf.float32)
    z_b = tf.cast(z_b, dtype)
    low = nt_xent(z_a, z_b, 0.05)
    full = nt_xent(tf.cast(z_a, tf.float32), tf.cast(z_b, tf.float32), 0.05)
    assert low.dtype == tf.float32 and np.isfinite(low.numpy())
    np.testing.assert_allclose(low.numpy(), full.numpy(), atol=1e-2)


def test_nt_xent_rejects_bad_arguments():
    z = tf.ones((4, 8))
    with pytest.raises(ValueError, match="temperature"):
        nt_xent(z, z, 0.0)
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        nt_xent(tf.ones((4, 8, 2)), tf.ones((4, 8, 2)), 0.1)


def _loss_and_gradients(weights: tf.Variable, x_a, x_b):
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    with tf.GradientTape() as tape:
        loss = nt_xent(tf.tanh(x_a @ weights), tf.tanh(x_b @ weights), 0.1)
        scaled = loss / replicas
    return loss, tape.gradient(scaled, weights)


def test_nt_xent_across_two_replicas_equals_one_device_with_the_global_batch(two_replicas):
    rng = np.random.default_rng(1)
    x_a = rng.normal(size=(16, 10)).astype(np.float32)
    x_b = (x_a + 0.5 * rng.normal(size=(16, 10))).astype(np.float32)
    initial = rng.normal(size=(10, 6)).astype(np.float32)

    strategy = two_replicas
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        weights = tf.Variable(initial)

    def replica_rows(x):
        return lambda context: x[8 * context.replica_id_in_sync_group : 8 * (context.replica_id_in_sync_group + 1)]

    a_parts = strategy.experimental_distribute_values_from_function(replica_rows(x_a))
    b_parts = strategy.experimental_distribute_values_from_function(replica_rows(x_b))
    step = tf.function(lambda a, b: _loss_and_gradients(weights, a, b))
    losses, gradients = strategy.run(step, args=(a_parts, b_parts))
    distributed_loss = strategy.reduce(tf.distribute.ReduceOp.MEAN, losses, axis=None).numpy()
    distributed_grad = strategy.reduce(tf.distribute.ReduceOp.SUM, gradients, axis=None).numpy()

    loss, grad = _loss_and_gradients(tf.Variable(initial), x_a, x_b)
    np.testing.assert_allclose(distributed_loss, loss.numpy(), atol=1e-5)
    np.testing.assert_allclose(distributed_grad, grad.numpy(), atol=1e-5)
    assert np.abs(grad.numpy()).max() > 1e-3  # the comparison is not between two zero gradients


def test_genre_multi_hot_ignores_padding_and_duplicates():
    ids = tf.constant([[2, 3, 0, 0], [1, 1, 0, 0]])
    np.testing.assert_array_equal(genre_multi_hot(ids, 5).numpy(), [[0, 1, 1, 0], [1, 0, 0, 0]])


def test_baseline_losses_against_numpy():
    logits = np.array([[2.0, -1.0, 0.5]], np.float32)
    ids = tf.constant([[1, 3, 0]])
    targets = np.array([[1.0, 0.0, 1.0]])
    expected = np.mean(np.maximum(logits, 0) - logits * targets + np.log1p(np.exp(-np.abs(logits))))
    np.testing.assert_allclose(genre_prediction_loss(tf.constant(logits), ids).numpy(), expected, rtol=1e-6)
    predicted, cf = np.ones((2, 301), np.float32), np.zeros((2, 301), np.float32)
    assert cf_regression_loss(predicted, cf).numpy() == pytest.approx(1.0)
