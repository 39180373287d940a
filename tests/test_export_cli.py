"""`export/export_savedmodel.py` and `restore_audio_encoder`: Keras weights or a training checkpoint to a SavedModel."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from cmir_tf.export.checkpoint import restore_audio_encoder
from cmir_tf.models import build_audio_encoder

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(REPO, "export", "export_savedmodel.py")


class _Trainer(keras.Model):
    """Stands in for the training model: the encoder at `model.audio_encoder`, plus other state."""

    def __init__(self):
        super().__init__()
        self.audio_encoder = build_audio_encoder()
        self.head = keras.layers.Dense(3)


def test_restore_from_a_training_checkpoint(tmp_path):
    trainer = _Trainer()
    tf.train.Checkpoint(model=trainer, step=tf.Variable(7)).save(str(tmp_path / "ckpt" / "ckpt"))
    encoder = build_audio_encoder()
    assert restore_audio_encoder(encoder, str(tmp_path / "ckpt"), "model.audio_encoder").endswith("ckpt-1")
    for restored, trained in zip(encoder.weights, trainer.audio_encoder.weights):
        np.testing.assert_array_equal(restored.numpy(), trained.numpy())
    with pytest.raises(AssertionError, match="not bound to checkpointed values"):
        restore_audio_encoder(build_audio_encoder(), str(tmp_path / "ckpt"), "model.missing_encoder")


def test_cli_exports_keras_weights(tmp_path):
    keras.utils.set_random_seed(11)
    encoder = build_audio_encoder()
    encoder.save_weights(str(tmp_path / "encoder.weights.h5"))
    command = [
        sys.executable, SCRIPT, f"--weights={tmp_path / 'encoder.weights.h5'}", "--variant=contr_g",
        '--metadata_json={"temperature": 0.1}', f"--output_dir={tmp_path / 'model'}",
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": REPO}
    subprocess.run(command, check=True, env=env, timeout=300)
    with open(tmp_path / "model" / "assets" / "cmir_tf.json") as f:
        metadata = json.load(f)["metadata"]
    assert metadata["variant"] == "contr_g" and metadata["temperature"] == 0.1
    loaded = tf.saved_model.load(str(tmp_path / "model"))
    mel = np.random.default_rng(0).normal(-60.0, 20.0, (2, 256, 48)).astype(np.float32)
    out = loaded.signatures["serving_default"](mel=tf.constant(mel))
    np.testing.assert_allclose(out["embedding"].numpy(), encoder(mel)["embedding"].numpy(), rtol=1e-5, atol=1e-5)


def test_cli_exports_the_genre_encoder_of_a_contrastive_checkpoint(prepared_demo, tmp_path):
    from cmir_tf.models import build_variant

    keras.utils.set_random_seed(12)
    model = build_variant("contr_g", np.load(os.path.join(prepared_demo, "genre_word2vec.npy")))
    tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt" / "ckpt"))
    command = [sys.executable, SCRIPT, f"--checkpoint={tmp_path / 'ckpt'}", "--variant=contr_g",
               f"--data_dir={prepared_demo}", f"--output_dir={tmp_path / 'model'}"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": REPO}
    subprocess.run(command, check=True, env=env, timeout=300)
    signatures = tf.saved_model.load(str(tmp_path / "model")).signatures
    assert "embed_genres" in signatures and "embed_cf" not in signatures  # contr_g trains no CF encoder
    with open(os.path.join(prepared_demo, "genre_vocab.json")) as f:
        first = min(json.load(f).items(), key=lambda item: item[1])
    exported = signatures["embed_genres"](genre_codes=tf.constant([[first[0]]]))["embedding"].numpy()
    np.testing.assert_allclose(exported, model.genre_encoder(np.array([[first[1]]], np.int32)), atol=1e-5)
