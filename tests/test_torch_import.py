"""The authors' PyTorch AudioEncoder, converted, gives the same outputs in TensorFlow (needs the `[torch]` extra)."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import torch
from torch import nn

from cmir_tf.export.torch_import import audio_encoder_from_state_dict, load_torch_state_dict
from torch_reference import ReferenceAudioEncoder  # tests/torch_reference.py

BATCH = 3
REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]


def _randomised_reference() -> ReferenceAudioEncoder:
    """Random weights everywhere, BatchNorm/LayerNorm affine parameters and BatchNorm statistics included.

    The running statistics are one random batch's statistics, perturbed: activations stay of order one through
    the seven blocks, so the outputs depend on the input and the comparison checks every layer's mapping.
    """
    torch.manual_seed(0)
    model = ReferenceAudioEncoder()
    batch_norms = [m for m in model.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0.0, 0.2)
        for module in batch_norms:
            module.momentum = 1.0  # The next training-mode forward sets the running statistics to its own.
        model.train()(torch.randn(8, 1, 48, 256))
        for module in batch_norms:
            module.momentum = 0.1
            module.running_mean.add_(0.2 * module.running_var.sqrt() * torch.randn_like(module.running_mean))
            module.running_var.mul_(torch.empty_like(module.running_var).uniform_(0.7, 1.4))
    return model.eval()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """(torch model in eval mode, path of its saved state dict)."""
    model = _randomised_reference()
    path = tmp_path_factory.mktemp("torch") / "audio_encoder.pt"
    torch.save(model.state_dict(), path)
    return model, str(path)


def _torch_outputs(model: nn.Module, x: np.ndarray, input_layout: str) -> tuple[np.ndarray, np.ndarray]:
    """Torch features permuted to the Keras flatten order (time, mel, channel), and the embedding."""
    inputs = torch.from_numpy(x)
    if input_layout == "true":  # encode.py: a (48 mel, 256 time) spectrogram.
        inputs = inputs.transpose(1, 2)[:, None]
    else:  # The training loop: `.view(-1, 1, 48, 256)` of (256, 48) crops.
        inputs = inputs.reshape(len(x), 1, 48, 256)
    with torch.no_grad():
        features, embedding = model(inputs)
    features = features.numpy().reshape(len(x), 512, 1, 2).transpose(0, 3, 2, 1).reshape(len(x), 1024)
    return features, embedding.numpy()


@pytest.mark.parametrize("input_layout", ["true", "authors_training"])
def test_converted_encoder_matches_torch(reference, input_layout):
    model, path = reference
    x = np.random.default_rng(1).normal(size=(BATCH, 256, 48)).astype(np.float32)
    encoder = audio_encoder_from_state_dict(load_torch_state_dict(path), input_layout)
    outputs = encoder(x, training=False)
    features, embedding = _torch_outputs(model, x, input_layout)
    assert features.std(axis=0).mean() > 0.1 and embedding.std(axis=0).mean() > 0.3  # Outputs depend on x.
    np.testing.assert_allclose(outputs["features"].numpy(), features, atol=1e-4, rtol=0)
    np.testing.assert_allclose(outputs["embedding"].numpy(), embedding, atol=1e-4, rtol=0)


def test_prefix_selects_the_audio_encoder_in_a_larger_state_dict(reference, tmp_path):
    model, path = reference
    full = {f"audio_encoder.{k}": v for k, v in model.state_dict().items()}
    full["cf_encoder.fc.0.weight"] = torch.zeros(128, 301)
    torch.save(full, tmp_path / "full.pt")
    selected = load_torch_state_dict(str(tmp_path / "full.pt"), prefix="audio_encoder.")
    own = load_torch_state_dict(path)
    assert selected.keys() == own.keys()
    assert not any(key.endswith("num_batches_tracked") for key in own)


def test_bad_state_dict_lists_every_problem(reference):
    state = load_torch_state_dict(reference[1])
    del state["audio_encoder.3.bn.running_var"]
    state["genre_encoder.fc.weight"] = np.zeros((128, 128), np.float32)
    state["fc_audio.4.weight"] = np.zeros((128, 1024), np.float32)
    with pytest.raises(ValueError) as error:
        audio_encoder_from_state_dict(state)
    message = str(error.value)
    assert "missing key audio_encoder.3.bn.running_var" in message
    assert "unknown key genre_encoder.fc.weight" in message
    assert "fc_audio.4.weight: got (128, 1024), expected (128, 512)" in message


def test_unknown_input_layout_is_rejected(reference):
    with pytest.raises(ValueError, match="input_layout"):
        audio_encoder_from_state_dict(load_torch_state_dict(reference[1]), "transposed")


def test_cli_writes_a_savedmodel_giving_the_torch_outputs(reference, tmp_path):
    model, path = reference
    output = tmp_path / "savedmodel"
    command = [sys.executable, "export/from_torch.py", f"--checkpoint={path}", "--variant=contr_cf_g"]
    command += [f"--output={output}", "--input_layout=authors_training"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    x = np.random.default_rng(2).normal(size=(BATCH, 256, 48)).astype(np.float32)
    outputs = tf.saved_model.load(str(output)).signatures["serving_default"](mel=tf.constant(x))
    features, embedding = _torch_outputs(model, x, "authors_training")
    np.testing.assert_allclose(outputs["features"].numpy(), features, atol=1e-4, rtol=0)
    np.testing.assert_allclose(outputs["embedding"].numpy(), embedding, atol=1e-4, rtol=0)
    metadata = json.loads((output / "assets" / "cmir_tf.json").read_text())["metadata"]
    assert metadata["variant"] == "contr_cf_g" and metadata["input_layout"] == "authors_training"
