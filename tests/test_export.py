"""SavedModel export: the three signatures reproduce the in-process Keras encoder in a fresh process."""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from cmir_tf.audio import chunk_mel, log_mel_spectrogram
from cmir_tf.export import AudioEncoderModule, export_audio_encoder
from cmir_tf.models import build_audio_encoder

METADATA = {"variant": "contr_cf_g", "flags": {"batch_size": 128, "temperature": 0.1}}
PICKLE_MAGICS = tuple(bytes([0x80, protocol]) for protocol in range(2, 6))


def perturbed_encoder() -> keras.Model:
    """A random encoder whose BatchNorm statistics are far from the identity, so inference mode matters."""
    keras.utils.set_random_seed(3)
    encoder = build_audio_encoder()
    rng = np.random.default_rng(3)
    for layer in encoder.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            shape = layer.moving_mean.shape
            layer.moving_mean.assign(rng.normal(0, 0.5, shape) - (60.0 if layer.name == "input_bn" else 0.0))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, shape) * (400.0 if layer.name == "input_bn" else 1))
            if layer.scale:  # the input BatchNorm's affine lives in conv1 (AffineInputConv2D)
                layer.gamma.assign(rng.uniform(0.5, 1.5, shape))
                layer.beta.assign(rng.normal(0, 0.2, shape))
    return encoder


def _music(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(5)
    t = np.arange(int(seconds * 16000)) / 16000
    tone = 0.3 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 0.7 * t)) / 2
    return (tone + 0.05 * rng.normal(size=t.size)).astype(np.float32)


@pytest.fixture
def exported(perturbed_export):
    return perturbed_export


FRESH_PROCESS = textwrap.dedent(
    """
    import sys
    import numpy as np
    import tensorflow as tf
    import keras

    export_dir, inputs_path, outputs_path = sys.argv[1:]
    inputs = np.load(inputs_path)
    loaded = tf.saved_model.load(export_dir)
    out = {}
    for name in ("serving_default", "embed_mel"):
        result = loaded.signatures[name](mel=tf.constant(inputs["mel_batch"]))
        out.update({f"{name}/{k}": v.numpy() for k, v in result.items()})
    result = loaded.signatures["embed_track_mel"](mel=tf.constant(inputs["mel_track"]))
    out.update({f"embed_track_mel/{k}": v.numpy() for k, v in result.items()})
    result = loaded.signatures["embed_waveform"](waveform=tf.constant(inputs["waveform"]))
    out.update({f"embed_waveform/{k}": v.numpy() for k, v in result.items()})
    layer = keras.layers.TFSMLayer(export_dir, call_endpoint="serving_default")
    out.update({f"tfsm/{k}": keras.ops.convert_to_numpy(v) for k, v in layer(inputs["mel_batch"]).items()})
    out["signatures"] = np.array(sorted(loaded.signatures.keys()))
    out["cmir_tf_imported"] = np.array(any(m.split(".")[0] == "cmir_tf" for m in sys.modules))
    np.savez(outputs_path, **out)
    """
)


def test_fresh_tensorflow_process_reproduces_keras(exported, tmp_path):
    encoder, export_dir = exported
    rng = np.random.default_rng(0)
    waveform = _music(9.0)  # 564 frames: 3 chunks, the last one wrapped
    inputs = {
        "mel_batch": rng.normal(-60.0, 20.0, (5, 256, 48)).astype(np.float32),
        "mel_track": rng.normal(-60.0, 20.0, (300, 48)).astype(np.float32),
        "waveform": waveform,
    }
    np.savez(tmp_path / "inputs.npz", **inputs)
    script = tmp_path / "fresh.py"
    script.write_text(FRESH_PROCESS)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    subprocess.run(
        [sys.executable, str(script), export_dir, str(tmp_path / "inputs.npz"), str(tmp_path / "outputs.npz")],
        check=True, env=env, cwd=str(tmp_path), timeout=300,
    )
    out = np.load(tmp_path / "outputs.npz")
    assert not out["cmir_tf_imported"]
    assert set(out["signatures"]) == {"serving_default", "embed_mel", "embed_track_mel", "embed_waveform"}

    def keras_outputs(mel):
        return {k: v.numpy() for k, v in encoder(mel, training=False).items()}

    close = {"rtol": 1e-5, "atol": 1e-5}
    expected = keras_outputs(inputs["mel_batch"])
    assert expected["features"].std() > 0.1  # a meaningful comparison
    for prefix in ("serving_default", "embed_mel", "tfsm"):
        for key in ("features", "embedding"):
            np.testing.assert_allclose(out[f"{prefix}/{key}"], expected[key], **close)

    track = keras_outputs(chunk_mel(inputs["mel_track"]))
    assert out["embed_track_mel/features"].shape == (2, 1024)
    for key in ("features", "embedding"):
        np.testing.assert_allclose(out[f"embed_track_mel/{key}"], track[key], **close)
        np.testing.assert_allclose(out[f"embed_track_mel/mean_{key}"], track[key].mean(axis=0), **close)

    log_mel = log_mel_spectrogram(waveform).numpy()
    np.testing.assert_allclose(out["embed_waveform/log_mel"], log_mel, rtol=0, atol=1e-3)
    assert log_mel.shape == (1 + -(-len(waveform) // 256), 48) == (564, 48)
    from_mel = keras_outputs(chunk_mel(log_mel))
    assert out["embed_waveform/embedding"].shape == (3, 128)
    for key in ("features", "embedding"):
        np.testing.assert_allclose(out[f"embed_waveform/{key}"], from_mel[key], **close)
        np.testing.assert_allclose(out[f"embed_waveform/mean_{key}"], from_mel[key].mean(axis=0), **close)


def test_long_tracks_are_encoded_in_batches(exported):
    encoder, _ = exported
    module = AudioEncoderModule(encoder, chunks_per_batch=2)
    mel = np.random.default_rng(1).normal(-60.0, 20.0, (5 * 256 - 3, 48)).astype(np.float32)  # 3 batches
    out = module.embed_track_mel(tf.constant(mel))
    expected = encoder(chunk_mel(mel), training=False)["features"].numpy()
    assert out["features"].shape == (5, 1024)
    np.testing.assert_allclose(out["features"].numpy(), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["mean_features"].numpy(), expected.mean(axis=0), rtol=1e-5, atol=1e-5)


def test_asset_json_and_no_pickle(exported):
    _, export_dir = exported
    with open(os.path.join(export_dir, "assets", "cmir_tf.json")) as f:
        asset = json.load(f)
    assert asset["metadata"] == METADATA
    assert asset["front_end"]["sample_rate"] == 16000 and asset["front_end"]["n_mels"] == 48
    assert asset["front_end"]["floor_db"] == -200.0 and asset["chunk_padding"] == "wrap"
    assert asset["versions"]["tensorflow"] == tf.__version__ and asset["versions"]["cmir_tf"]
    files = [os.path.join(root, name) for root, _, names in os.walk(export_dir) for name in names]
    assert os.path.join(export_dir, "saved_model.pb") in files
    for path in files:
        assert not path.endswith((".pkl", ".pickle", ".npy"))
        with open(path, "rb") as f:
            assert not f.read(2).startswith(PICKLE_MAGICS), path


def test_non_finite_waveform_is_a_clear_error(exported):
    _, export_dir = exported
    loaded = tf.saved_model.load(export_dir)
    waveform = np.zeros(1000, np.float32)
    waveform[10] = np.nan
    with pytest.raises(tf.errors.InvalidArgumentError, match="NaN or inf"):
        loaded.signatures["embed_waveform"](waveform=tf.constant(waveform))
    short = loaded.signatures["embed_waveform"](waveform=tf.zeros([100]))  # shorter than a chunk: tiled
    assert short["features"].shape == (1, 1024) and np.isfinite(short["features"].numpy()).all()
    assert np.all(short["log_mel"].numpy() == -200.0)


def test_existing_directory_needs_overwrite(exported, tmp_path):
    encoder, shared = exported
    export_dir = str(tmp_path / "model")
    shutil.copytree(shared, export_dir)  # the shared export stays as it is
    with pytest.raises(FileExistsError):
        export_audio_encoder(encoder, export_dir)
    export_audio_encoder(encoder, export_dir, {"variant": "bline_g"}, overwrite=True)
    with open(os.path.join(export_dir, "assets", "cmir_tf.json")) as f:
        assert json.load(f)["metadata"] == {"variant": "bline_g"}
    assert os.listdir(os.path.dirname(export_dir)) == ["model"]  # no temporary folders left behind
