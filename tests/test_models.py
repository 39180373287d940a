"""Encoders and the six variants: sizes, invariances, bad input, and that every variant learns."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from cmir_tf.constants import VARIANTS
from cmir_tf.models import VARIANT_LOSSES, build_audio_encoder, build_cf_encoder, build_genre_encoder, build_variant


def trainable_count(model: keras.Model) -> int:
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)


@pytest.fixture(scope="module")
def word2vec() -> np.ndarray:
    table = np.random.default_rng(0).normal(size=(13, 16)).astype(np.float32)
    table[0] = 0
    return table


def test_audio_encoder_matches_the_authors_parameter_count():
    encoder = build_audio_encoder()
    assert trainable_count(encoder) == 3_989_762
    out = encoder(np.zeros((2, 256, 48), np.float32))
    assert out["features"].shape == (2, 1024) and out["embedding"].shape == (2, 128)


def test_genre_and_cf_encoder_sizes(word2vec):
    genre = build_genre_encoder(word2vec)
    cf = build_cf_encoder()
    # Embedding 13*16 + attention (3 * 16*128 + 128*128, no biases) + skip Dense 128*128+128 + LayerNorm 256.
    assert trainable_count(genre) == 13 * 16 + 3 * 16 * 128 + 128 * 128 + 128 * 128 + 128 + 256
    assert trainable_count(cf) == 301 * 128 + 128 + 128 * 128 + 128 + 256
    assert cf(np.zeros((3, 301), np.float32)).shape == (3, 128)


def test_genre_encoder_output_does_not_depend_on_padding(word2vec):
    genre = build_genre_encoder(word2vec)
    short = genre(np.array([[3, 7, 1], [5, 0, 0]], np.int32), training=False)
    padded = genre(np.array([[3, 7, 1, 0, 0, 0, 0, 0, 0, 0], [5, 0, 0, 0, 0, 0, 0, 0, 0, 0]], np.int32))
    np.testing.assert_allclose(short.numpy(), padded.numpy(), atol=1e-5)
    other_order = genre(np.array([[1, 3, 7]], np.int32))
    np.testing.assert_allclose(other_order.numpy()[0], short.numpy()[0], atol=1e-5)  # a set, not a sequence
    assert not np.allclose(short.numpy()[0], short.numpy()[1])  # different genres, different embeddings


def test_genre_encoder_starts_from_the_word2vec_table(word2vec):
    genre = build_genre_encoder(word2vec)
    np.testing.assert_array_equal(genre.get_layer("genre_word2vec").embeddings.numpy(), word2vec)
    with pytest.raises(ValueError, match="padding row"):
        build_genre_encoder(word2vec + 1)


def test_wrong_mel_shape_names_the_expected_shape():
    encoder = build_audio_encoder()
    with pytest.raises(ValueError, match=r"\(None, 256, 48\)"):
        encoder(np.zeros((2, 48, 256), np.float32))


def test_genre_id_outside_the_vocabulary_is_a_clear_error(word2vec):
    genre = build_genre_encoder(word2vec)
    with pytest.raises(tf.errors.InvalidArgumentError, match="outside the vocabulary"):
        genre(np.array([[2, 13]], np.int32))
    with pytest.raises(tf.errors.InvalidArgumentError, match=">= 0"):
        genre(np.array([[-1, 2]], np.int32))


def test_unknown_variant_is_rejected(word2vec):
    with pytest.raises(ValueError, match="contr_cf_g"):
        build_variant("contr_everything", word2vec)


def fixed_batch(word2vec: np.ndarray, size: int = 8) -> dict:
    rng = np.random.default_rng(3)
    genre_ids = np.zeros((size, 10), np.int32)
    for row in range(size):
        genre_ids[row, : 1 + row % 3] = rng.choice(np.arange(1, len(word2vec)), 1 + row % 3, replace=False)
    return {
        "mel": rng.normal(size=(size, 256, 48)).astype(np.float32),
        "genre_ids": genre_ids,
        "cf": rng.normal(size=(size, 301)).astype(np.float32),
    }


@pytest.mark.parametrize("variant", VARIANTS)
def test_each_variant_reduces_its_training_loss(variant, word2vec):
    keras.utils.set_random_seed(0)
    model = build_variant(variant, word2vec, dropout=0.1)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    batch = {k: tf.constant(v) for k, v in fixed_batch(word2vec).items()}
    step = tf.function(model.train_step)
    losses = []
    for _ in range(20):
        for metric in model.metrics:
            metric.reset_state()
        losses.append(float(step(batch)["loss"]))
    assert set(step(batch)) == {"loss", *(f"{t}_loss" for t in VARIANT_LOSSES[variant])}
    assert np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:3]), losses


@pytest.mark.parametrize("variant", ["contr_cf_g", "bline_cf_g"])  # together they hold every encoder and head
def test_variant_trains_under_mirrored_strategy(variant, word2vec, two_replicas):
    from cmir_tf.training.loop import make_train_step

    strategy = two_replicas
    with strategy.scope():
        model = build_variant(variant, word2vec, dropout=0.1)
        model.compile(optimizer=keras.optimizers.Adam(1e-3))
        model.optimizer.build(model.trainable_variables)  # as training/loop.py does
    batch = fixed_batch(word2vec)
    dataset = strategy.experimental_distribute_dataset(tf.data.Dataset.from_tensor_slices(batch).batch(8))
    logs = make_train_step(model, strategy)(next(iter(dataset)))
    assert np.isfinite(float(logs["loss"]))


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_train_step_is_finite_and_keeps_float32_outputs(precision, word2vec, request):
    if precision == "mixed_bfloat16":
        request.getfixturevalue("bf16_runs")
    keras.mixed_precision.set_global_policy(precision)
    try:
        model = build_variant("contr_cf_g", word2vec, dropout=0.1)
        model.compile(optimizer=keras.optimizers.Adam(1e-4))
        if precision == "mixed_float16":
            assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        # Two songs, the smallest contrastive batch: float16 convolutions have no fast CPU kernel (a batch
        # of 8 took about a minute on 2 AVX2 cores).
        batch = {k: tf.constant(v) for k, v in fixed_batch(word2vec, size=2).items()}
        outputs = model.audio_encoder(batch["mel"])
        assert outputs["features"].dtype == tf.float32 and outputs["embedding"].dtype == tf.float32
        assert model.audio_encoder.get_layer("conv1").compute_dtype == precision.split("_")[1]
        logs = tf.function(model.train_step)(batch)
        assert np.isfinite(float(logs["loss"]))
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_fused_batch_norm_matches_keras_batch_norm():
    from cmir_tf.models.fused_batch_norm import FusedBatchNormalization

    x = tf.constant(np.random.default_rng(5).normal(2.0, 3.0, size=(6, 7, 5, 4)).astype(np.float32))
    fused = FusedBatchNormalization(momentum=0.9, epsilon=1e-5)
    plain = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    for layer in (fused, plain):
        layer.build(x.shape)
        layer.gamma.assign(np.linspace(0.5, 2.0, 4))
        layer.beta.assign(np.linspace(-1.0, 1.0, 4))
    outputs, gradients = [], []
    for layer in (fused, plain):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.sin(y))
        outputs.append(y.numpy())
        gradients.append([g.numpy() for g in tape.gradient(loss, [x, layer.gamma, layer.beta])])
    np.testing.assert_allclose(outputs[0], outputs[1], atol=1e-5)
    for got, want in zip(*gradients):
        np.testing.assert_allclose(got, want, atol=1e-4)
    n = 6 * 7 * 5  # the fused kernel updates the moving variance with the unbiased batch variance
    np.testing.assert_allclose(fused.moving_mean.numpy(), plain.moving_mean.numpy(), atol=1e-6)
    unbiased_update = 0.9 + 0.1 * np.var(x.numpy(), axis=(0, 1, 2)) * n / (n - 1)
    np.testing.assert_allclose(fused.moving_variance.numpy(), unbiased_update, rtol=1e-5)
    plain.moving_variance.assign(fused.moving_variance)
    np.testing.assert_allclose(fused(x, training=False).numpy(), plain(x, training=False).numpy(), atol=1e-5)


def test_affine_input_conv_equals_affine_then_convolution():
    from cmir_tf.models.affine_input_conv import AffineInputConv2D

    x = tf.constant(np.random.default_rng(6).normal(size=(3, 9, 7, 1)).astype(np.float32))
    fused = AffineInputConv2D(4)
    plain = keras.layers.Conv2D(4, 3, padding="same")
    fused.build(x.shape)
    plain.build(x.shape)
    plain.set_weights([np.random.default_rng(7).normal(size=w.shape).astype(np.float32) for w in plain.weights])
    fused.set_weights([*plain.get_weights(), np.array([1.7], np.float32), np.array([-0.6], np.float32)])
    gamma, beta = tf.Variable([1.7]), tf.Variable([-0.6])
    with tf.GradientTape(persistent=True) as tape:
        want = plain(gamma * x + beta)
        got = fused(x)
        weights = tf.constant(np.random.default_rng(8).normal(size=want.shape).astype(np.float32))
        loss_want, loss_got = tf.reduce_sum(want * weights), tf.reduce_sum(got * weights)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)
    pairs = zip(
        tape.gradient(loss_got, [fused.kernel, fused.bias, fused.input_gamma, fused.input_beta]),
        tape.gradient(loss_want, [plain.kernel, plain.bias, gamma, beta]),
    )
    for got_gradient, want_gradient in pairs:
        np.testing.assert_allclose(got_gradient.numpy(), want_gradient.numpy(), rtol=1e-4, atol=1e-4)
