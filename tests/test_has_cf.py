"""Songs without a CF vector (`has_cf = 0`) take no part in the CF terms, on one device and across replicas."""

import keras
import numpy as np
import tensorflow as tf

from cmir_tf.losses import cf_regression_loss, nt_xent
from cmir_tf.models import build_variant


def _pairs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(n, 6)).astype(np.float32)
    return a, (a + 0.7 * rng.normal(size=(n, 6))).astype(np.float32)


def test_masked_rows_are_neither_anchors_nor_negatives():
    a, b = _pairs(10, 0)
    mask = np.array([1, 0, 1, 1, 0, 1, 1, 1, 0, 1], bool)
    a_var = tf.Variable(a)
    with tf.GradientTape() as tape:
        masked = nt_xent(a_var, b, 0.1, mask)
    gradient = tape.gradient(masked, a_var).numpy()
    np.testing.assert_allclose(masked.numpy(), nt_xent(a[mask], b[mask], 0.1).numpy(), rtol=1e-6)
    assert not gradient[~mask].any() and np.abs(gradient[mask]).min() > 0


def test_a_batch_without_cf_rows_gives_zero_not_nan():
    a, b = _pairs(4, 1)
    a_var = tf.Variable(a)
    none = np.zeros(4, np.float32)
    with tf.GradientTape() as tape:
        losses = [nt_xent(a_var, b, 0.1, none), cf_regression_loss(a_var, b, none)]
        total = tf.add_n(losses)
    gradient = tape.gradient(total, a_var).numpy()
    assert [float(x) for x in losses] == [0.0, 0.0]
    assert np.isfinite(gradient).all() and not gradient.any()


def test_masked_losses_across_two_replicas_equal_one_device(two_replicas):
    """Replica 0 holds 2 counted pairs of 6, replica 1 holds 5: the replicas' mean is the global masked mean."""
    a, b = _pairs(12, 2)
    mask = np.array([1, 0, 0, 1, 0, 0] + [1, 1, 0, 1, 1, 1], np.float32)
    initial = np.random.default_rng(3).normal(size=(6, 6)).astype(np.float32)
    with two_replicas.scope():
        weights = tf.Variable(initial)

    def loss_and_gradient(w, a, b, mask):
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            contrastive = nt_xent(tf.tanh(a @ w), b, 0.1, mask)
            regression = cf_regression_loss(a @ w, b, mask)
            scaled = (contrastive + regression) / replicas
        return contrastive, regression, tape.gradient(scaled, w)

    def part(x):
        return lambda context: x[6 * context.replica_id_in_sync_group : 6 * (context.replica_id_in_sync_group + 1)]

    parts = [two_replicas.experimental_distribute_values_from_function(part(x)) for x in (a, b, mask)]
    outputs = two_replicas.run(tf.function(lambda *args: loss_and_gradient(weights, *args)), args=parts)
    mean = tf.distribute.ReduceOp.MEAN
    distributed = [two_replicas.reduce(mean, x, axis=None).numpy() for x in outputs[:2]]
    distributed_gradient = two_replicas.reduce(tf.distribute.ReduceOp.SUM, outputs[2], axis=None).numpy()

    *single, gradient = loss_and_gradient(tf.Variable(initial), a, b, mask)
    np.testing.assert_allclose(distributed, [x.numpy() for x in single], rtol=1e-5)
    np.testing.assert_allclose(distributed_gradient, gradient.numpy(), atol=1e-5)
    keep = mask.astype(bool)
    np.testing.assert_allclose(single[0].numpy(), nt_xent(tf.tanh(a[keep] @ initial), b[keep], 0.1).numpy(), rtol=1e-5)


def _batch(size: int, seed: int, has_cf: float) -> dict:
    rng = np.random.default_rng(seed)
    genre_ids = np.zeros((size, 10), np.int32)
    genre_ids[:, :2] = rng.integers(1, 6, size=(size, 2))
    return {
        "mel": rng.normal(size=(size, 256, 48)).astype(np.float32),
        "genre_ids": genre_ids,
        "cf": rng.normal(size=(size, 301)).astype(np.float32) * has_cf,
        "has_cf": np.full(size, has_cf, np.float32),
    }


def test_rows_without_cf_leave_the_cf_terms_unchanged_while_audio_genre_uses_them():
    keras.utils.set_random_seed(0)
    word2vec = np.random.default_rng(0).normal(size=(6, 16)).astype(np.float32)
    word2vec[0] = 0.0  # the padding row
    with_cf = _batch(8, 0, 1.0)
    extended = {k: np.concatenate([v, _batch(4, 1, 0.0)[k]]) for k, v in with_cf.items()}
    for variant, cf_terms, other in (("contr_cf_g", ("audio_cf", "genre_cf"), "audio_genre"),
                                     ("bline_cf_g", ("cf_prediction",), "genre_prediction")):
        model = build_variant(variant, word2vec)
        before = {k: float(v) for k, v in model.loss_terms(with_cf, training=False).items()}
        after = {k: float(v) for k, v in model.loss_terms(extended, training=False).items()}
        for term in cf_terms:
            assert abs(after[term] - before[term]) < 1e-5, (term, before, after)
        assert abs(after[other] - before[other]) > 1e-3, (other, before, after)
