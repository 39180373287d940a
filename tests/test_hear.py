"""HEAR 2021 API: shapes, timestamps and agreement with the SavedModel's `embed_waveform`."""

import numpy as np
import pytest
import tensorflow as tf

from cmir_tf import hear


@pytest.fixture
def model_dir(audio_export):
    return audio_export


def _audio(n_sounds: int, n_samples: int) -> tf.Tensor:
    rng = np.random.default_rng(0)
    t = np.arange(n_samples) / 16000
    sounds = [0.3 * np.sin(2 * np.pi * 200 * (k + 1) * t) + 0.01 * rng.normal(size=n_samples) for k in range(n_sounds)]
    return tf.constant(np.stack(sounds).astype(np.float32))


def test_model_attributes(model_dir):
    model = hear.load_model(model_dir)
    assert model.sample_rate == 16000
    assert model.scene_embedding_size == model.timestamp_embedding_size == 1024
    assert hear.load_model(model_dir, output="embedding").scene_embedding_size == 128
    with pytest.raises(ValueError, match="output"):
        hear.load_model(model_dir, output="logits")


def test_shapes_timestamps_and_consistency_with_embed_waveform(model_dir):
    model = hear.load_model(model_dir)
    audio = _audio(3, 5 * 16000)  # 314 frames -> 2 chunks
    embeddings, timestamps = hear.get_timestamp_embeddings(audio, model)
    assert embeddings.shape == (3, 2, 1024) and embeddings.dtype == tf.float32
    assert timestamps.shape == (3, 2)
    np.testing.assert_allclose(timestamps.numpy(), [[2040.0, 4552.0]] * 3)  # chunk centres inside the sound, ms
    assert np.all(np.diff(timestamps.numpy(), axis=1) > 0)
    loaded = tf.saved_model.load(model_dir)
    for k in range(3):
        expected = loaded.signatures["embed_waveform"](waveform=audio[k])
        np.testing.assert_allclose(embeddings[k].numpy(), expected["features"].numpy(), rtol=1e-5, atol=1e-5)
    scene = hear.get_scene_embeddings(audio, model)
    assert scene.shape == (3, 1024)
    np.testing.assert_allclose(scene.numpy(), embeddings.numpy().mean(axis=1), rtol=1e-5, atol=1e-6)
    assert not np.allclose(scene[0].numpy(), scene[1].numpy())  # different sounds, different embeddings


def test_short_sounds_empty_batches_and_bad_rank(model_dir):
    model = hear.load_model(model_dir, output="embedding")
    embeddings, timestamps = hear.get_timestamp_embeddings(_audio(2, 16000), model)  # 1 s: one tiled chunk
    assert embeddings.shape == (2, 1, 128) and timestamps.shape == (2, 1)
    np.testing.assert_allclose(timestamps.numpy(), [[504.0]] * 2)  # the middle of its 64 frames, inside the clip
    assert np.isfinite(embeddings.numpy()).all()
    embeddings, timestamps = hear.get_timestamp_embeddings(tf.zeros([0, 16000]), model)
    assert embeddings.shape == (0, 1, 128) and timestamps.shape == (0, 1)
    with pytest.raises(ValueError, match="n_sounds, n_samples"):
        hear.get_scene_embeddings(tf.zeros([16000]), model)


def test_load_model_without_a_path_gives_an_untrained_encoder_only_when_asked():
    with pytest.raises(ValueError, match="random_encoder=True"):
        hear.load_model("")
    model = hear.load_model(random_encoder=True)
    scene = hear.get_scene_embeddings(_audio(1, 8000), model)
    assert scene.shape == (1, 1024) and np.isfinite(scene.numpy()).all()


def test_a_folder_that_is_not_a_cmir_saved_model_is_named(tmp_path):
    module = tf.Module()
    module.scale = tf.Variable(2.0)
    tf.saved_model.save(module, str(tmp_path / "other"))
    with pytest.raises(ValueError, match=r"other is not a cmir-tf audio-encoder SavedModel: .*'embed_mel'"):
        hear.load_model(str(tmp_path / "other"))
    with pytest.raises(ValueError, match="no SavedModel"):
        hear.load_model(str(tmp_path))
