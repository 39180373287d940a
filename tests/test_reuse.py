"""Reusing the export outside cmir-tf's own code: the `.keras` file, TFSMLayer, fine-tuning in Keras, LiteRT."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from cmir_tf.export import litert, load_keras_encoder
from cmir_tf.export.exported import NotACmirModelError
from cmir_tf.export.keras_file import KERAS_FILE
from cmir_tf.export.litert import load_interpreter
from cmir_tf.finetune import FineTuneConfig, build_classifier, fine_tune

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def export_dir(perturbed_export) -> str:
    return perturbed_export[1]


def _mel(batch: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(-50.0, 20.0, (batch, 256, 48)).astype(np.float32)


LOAD_KERAS_FILE = textwrap.dedent(
    """
    import sys
    import keras
    import numpy as np
    import cmir_tf.models  # the custom layers register where they are defined

    model = keras.saving.load_model(sys.argv[1])
    outputs = model(np.load(sys.argv[2]), training=False)
    np.savez(sys.argv[3], **{name: keras.ops.convert_to_numpy(value) for name, value in outputs.items()})
    """
)


def test_keras_file_loads_after_import_cmir_tf_models_and_matches_the_saved_model(export_dir, tmp_path):
    mel = _mel(4)
    np.save(tmp_path / "mel.npy", mel)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    subprocess.run([sys.executable, "-c", LOAD_KERAS_FILE, os.path.join(export_dir, KERAS_FILE),
                    str(tmp_path / "mel.npy"), str(tmp_path / "out.npz")], check=True, env=env, timeout=300)
    keras_outputs = np.load(tmp_path / "out.npz")
    saved = tf.saved_model.load(export_dir).signatures["embed_mel"](mel=tf.constant(mel))
    for name in ("features", "embedding"):
        np.testing.assert_allclose(keras_outputs[name], saved[name].numpy(), rtol=1e-5, atol=1e-5)


def test_tfsm_layer_inside_a_keras_model(export_dir):
    mel = keras.Input(shape=(256, 48), name="mel")
    features = keras.layers.TFSMLayer(export_dir, call_endpoint="embed_mel")(mel)["features"]
    model = keras.Model(mel, keras.layers.Dense(3, name="head")(features))
    inputs = _mel(2, seed=1)
    expected = tf.saved_model.load(export_dir).signatures["embed_mel"](mel=tf.constant(inputs))["features"]
    head = model.get_layer("head")
    np.testing.assert_allclose(model.predict(inputs, verbose=0), expected.numpy() @ head.kernel.numpy()
                               + head.bias.numpy(), rtol=1e-4, atol=1e-4)


def _separable_dataset(n_per_class: int) -> tf.data.Dataset:
    """Two classes of random mels, class 1 brighter in the upper half of the bands."""
    mel = _mel(2 * n_per_class, seed=2)
    labels = np.repeat([0, 1], n_per_class)
    mel[labels == 1, :, 24:] += 15.0
    return tf.data.Dataset.from_tensor_slices((mel, labels)).batch(8)


def test_fine_tuning_trains_the_head_then_the_encoder(export_dir):
    keras.utils.set_random_seed(0)
    encoder = load_keras_encoder(export_dir)
    conv1 = encoder.get_layer("conv1").kernel.numpy()
    classifier = build_classifier(encoder, num_classes=2)
    head = classifier.get_layer("head").kernel.numpy()
    data = _separable_dataset(8)
    config = FineTuneConfig(head_epochs=2, full_epochs=2, full_learning_rate=1e-4)
    history = fine_tune(classifier, encoder, data, config=config)
    assert set(history) == {"head", "full"} and len(history["full"]["loss"]) == 2
    assert not np.allclose(classifier.get_layer("head").kernel.numpy(), head)
    assert not np.allclose(encoder.get_layer("conv1").kernel.numpy(), conv1)  # unfrozen in phase 2
    assert history["full"]["loss"][-1] < history["head"]["loss"][0]


def test_the_keras_encoder_is_loaded_only_from_a_checked_export(tmp_path):
    """`load_keras_encoder` opens the folder with `ExportedModel` first: a lone `.keras` file is not an export."""
    (tmp_path / KERAS_FILE).write_bytes(b"")
    with pytest.raises(NotACmirModelError, match="no saved_model.pb"):
        load_keras_encoder(str(tmp_path))


def _litert(export_dir: str, output: str, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, os.path.join(REPO, "export", "to_litert.py"), f"--model={export_dir}",
                           f"--output={output}", *flags], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": REPO})


def _waveform(seconds: int) -> np.ndarray:
    t = np.arange(seconds * 16000) / 16000
    noise = np.random.default_rng(4).normal(0, 0.05, t.size)
    return (0.3 * np.sin(2 * np.pi * 440 * t * (1 + 0.1 * np.sin(t))) + noise).astype(np.float32)


def test_litert_export_matches_the_saved_model(export_dir, tmp_path):
    assert _litert(export_dir, str(tmp_path / "x.tflite"), "--quantization=int4").returncode != 0
    assert _litert(str(tmp_path), str(tmp_path / "x.tflite")).returncode == 2  # not a SavedModel
    result = _litert(export_dir, str(tmp_path / "float32.tflite"))
    assert result.returncode == 0 and "float32" in result.stdout, result.stderr
    interpreter = load_interpreter(str(tmp_path / "float32.tflite"))
    assert set(interpreter.get_signature_list()) == {"embed_mel", "embed_waveform"}
    saved = tf.saved_model.load(export_dir).signatures
    mel = _mel(3, seed=5)
    on_device = interpreter.get_signature_runner("embed_mel")(mel=mel)
    expected = saved["embed_mel"](mel=tf.constant(mel))
    for name in ("features", "embedding"):
        np.testing.assert_allclose(on_device[name], expected[name].numpy(), rtol=1e-4, atol=1e-4)
    waveform = _waveform(litert.WAVEFORM_SECONDS)
    on_device = interpreter.get_signature_runner("embed_waveform")(waveform=waveform)
    expected = saved["embed_waveform"](waveform=tf.constant(waveform))
    assert set(on_device) == set(expected) and on_device["features"].shape == (8, 1024)
    for name, value in expected.items():
        np.testing.assert_allclose(on_device[name], value.numpy(), rtol=1e-4, atol=1e-4, err_msg=name)

    int8_size = litert.convert_to_litert(export_dir, str(tmp_path / "int8.tflite"), "dynamic_int8")
    assert int8_size < 0.4 * os.path.getsize(tmp_path / "float32.tflite")
    quantized = load_interpreter(str(tmp_path / "int8.tflite")).get_signature_runner("embed_mel")(mel=mel)
    reference = saved["embed_mel"](mel=tf.constant(mel))["embedding"].numpy()
    cosine = np.sum(quantized["embedding"] * reference, -1) / (
        np.linalg.norm(quantized["embedding"], axis=-1) * np.linalg.norm(reference, axis=-1))
    assert np.all(cosine > 0.95), cosine
