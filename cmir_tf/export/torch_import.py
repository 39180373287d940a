"""Maps the authors' PyTorch `AudioEncoder` state dict onto `build_audio_encoder`.

The authors' module (andrebola/contrastive-mir-learning, `models.py`) takes NCHW input
(batch, 1, 48 mel, 256 time): `audio_encoder` = Sequential(BatchNorm2d(1), 7 x Conv_2d(`conv`, `bn`, `relu`,
`mp`), Flatten) and `fc_audio` = Sequential(Linear(1024, 512), BatchNorm1d(512), ReLU, Dropout,
Linear(512, 128), LayerNorm(128)). Its tensors are ours with the axes reversed: a conv kernel
(out, in, mel, time) is our (time, mel, in, out), a Linear weight (out, in) is our Dense kernel (in, out).

The one reordering left is the flatten: torch flattens the last conv output (512 channels, 1 mel, 2 time) in
the order channel, mel, time, Keras flattens our (2 time, 1 mel, 512 channels) in the order time, mel,
channel. The permutation is folded into `fc1`'s kernel rows, so `embedding` equals the torch projection,
while `features` holds torch's flattened output in the Keras order (time, mel, channel).

`export_torch_checkpoint` does the whole import (read, convert, export a SavedModel recording the source) for
`cmir-from-torch` and the released encoders (`cmir_tf.export.pretrained`).

PyTorch is imported only inside `load_torch_state_dict`, so the rest of the package works without it.
"""

from __future__ import annotations

import os
import pickle

import keras
import numpy as np
from keras import layers

from cmir_tf import errors
from cmir_tf.constants import CHUNK_FRAMES, N_MELS
from cmir_tf.data.checksum import sha256_file
from cmir_tf.export.saved_model import export_audio_encoder
from cmir_tf.models.audio_encoder import CONV_CHANNELS, build_audio_encoder

INPUT_LAYOUTS = ("true", "authors_training")
# Keras BatchNormalization weight order (gamma, beta, moving mean, moving variance) in torch names.
_BN_PARAMS = ("weight", "bias", "running_mean", "running_var")
_IGNORED_SUFFIX = "num_batches_tracked"


def load_torch_state_dict(path: str, prefix: str = "") -> dict[str, np.ndarray]:
    """Reads a PyTorch state dict saved with `torch.save` as float32 numpy arrays.

    Args:
      path: checkpoint file, e.g. the authors' `models/<variant>/audio_encoder.pt`.
      prefix: keep only the keys starting with it, with it removed (e.g. `"module."` for a DataParallel
        checkpoint, or the attribute holding the `AudioEncoder` in a larger model's state dict).

    Returns:
      torch key -> array, without BatchNorm's `num_batches_tracked` counters.
    """
    import torch  # Lazy: the `[torch]` extra is needed for this function only.

    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise errors.ConfigError(f"{path}: expected a state dict (a dict of tensors), got {type(state).__name__}")
    arrays = {
        key[len(prefix) :]: value.detach().float().numpy()
        for key, value in state.items()
        if key.startswith(prefix) and not key.endswith(_IGNORED_SUFFIX)
    }
    if not arrays:
        raise errors.ConfigError(f"{path}: no tensor key starts with the prefix {prefix!r}")
    return arrays


def audio_encoder_from_state_dict(state: dict[str, np.ndarray], input_layout: str = "true") -> keras.Model:
    """Builds the audio encoder carrying the authors' weights, in inference-equivalent form.

    Args:
      state: the authors' `AudioEncoder` state dict as arrays (`load_torch_state_dict`); keys ending in
        `num_batches_tracked` are ignored.
      input_layout: `"true"`: input `mel` (batch, 256 time, 48 mel) is the spectrogram, what the authors'
        `encode.py` fed (transposed to their (48, 256)). `"authors_training"`: the model first applies the
        authors' training-time `.view(-1, 1, 48, 256)` of a (256, 48) crop, a reshape that reorders frames
        and bands, so the network sees its input exactly as during the authors' training.

    Returns:
      A `keras.Model` mapping `mel` (batch, 256, 48) to `features` (batch, 1024; torch's flattened conv output
      in the order time, mel, channel) and `embedding` (batch, 128; equal to torch's projection).

    Raises:
      ValueError: listing every missing key, unknown key and shape mismatch, or for an unknown layout.
    """
    if input_layout not in INPUT_LAYOUTS:
        raise errors.ConfigError(f"input_layout must be one of {INPUT_LAYOUTS}, got {input_layout!r}")
    encoder = build_audio_encoder()
    sources = _torch_sources()
    _check_keys_and_shapes(state, encoder, sources)
    _, time, mel, channels = encoder.get_layer(f"conv{len(CONV_CHANNELS)}_pool").output.shape
    for layer_name, keys in sources.items():
        weights = [np.asarray(state[key], np.float32).T for key in keys]
        if layer_name == "fc1":  # Rows from torch's (channel, mel, time) order to ours (time, mel, channel).
            units = weights[0].shape[1]
            weights[0] = weights[0].reshape(channels, mel, time, units).transpose(2, 1, 0, 3).reshape(-1, units)
        encoder.get_layer(layer_name).set_weights(weights)
    if input_layout == "true":
        return encoder
    return _behind_authors_view(encoder)


class NotAnAudioEncoderError(errors.UsageError, ValueError):
    """The checkpoint is not a state dict of the authors' `AudioEncoder` (another file is needed)."""


def export_torch_checkpoint(checkpoint: str, variant: str, output: str, input_layout: str = "authors_training", *,
                            prefix: str = "", overwrite: bool = False, pretrained: dict | None = None) -> str:
    """The authors' `audio_encoder.pt` at `checkpoint` -> a cmir-tf SavedModel at `output`.

    Args:
      checkpoint: a `torch.save`d state dict of the authors' `AudioEncoder` (read with `weights_only=True`).
      variant: the training variant it comes from (recorded as metadata).
      output: the SavedModel folder to write; must not exist unless `overwrite`.
      input_layout: see `audio_encoder_from_state_dict`.
      prefix: see `load_torch_state_dict`.
      pretrained: where a released encoder came from (repository, commit, path, blob id, licence, ...),
        recorded in the asset's metadata as `pretrained`.

    Returns:
      `output`.

    Raises:
      NotAnAudioEncoderError: not a state dict of the authors' AudioEncoder (every key and shape problem named).
      errors.InputError: no such file (`MissingPathError`), PyTorch is not installed, or `torch.load` cannot
        read the file.
    """
    errors.require_path(checkpoint, "--checkpoint")
    try:
        encoder = audio_encoder_from_state_dict(load_torch_state_dict(checkpoint, prefix), input_layout)
    except ImportError as error:
        raise errors.InputError(f"needs PyTorch, the [torch] extra (pip install 'cmir-tf[torch]'): {error}") from error
    except (RuntimeError, EOFError, pickle.UnpicklingError) as error:  # what torch.load raises for a damaged file
        raise errors.InputError(f"{checkpoint}: torch.load cannot read it: {error}") from error
    except ValueError as error:
        raise NotAnAudioEncoderError(str(error)) from error
    metadata = {"source": "pytorch", "variant": variant, "input_layout": input_layout,
                "checkpoint": os.path.basename(checkpoint), "checkpoint_sha256": sha256_file(checkpoint)}
    if pretrained is not None:
        metadata["pretrained"] = pretrained
    return export_audio_encoder(encoder, output, metadata, overwrite=overwrite)


def _torch_sources() -> dict[str, list[str]]:
    """Keras layer name -> torch keys, in the order of the layer's weights."""
    # The input BatchNorm2d(1)'s weight and bias are conv1's `input_gamma`, `input_beta` (AffineInputConv2D).
    sources = {"input_bn": ["audio_encoder.0.running_mean", "audio_encoder.0.running_var"]}
    for block in range(1, len(CONV_CHANNELS) + 1):
        sources[f"conv{block}"] = [f"audio_encoder.{block}.conv.weight", f"audio_encoder.{block}.conv.bias"]
        sources[f"conv{block}_bn"] = [f"audio_encoder.{block}.bn.{p}" for p in _BN_PARAMS]
    sources["conv1"] += ["audio_encoder.0.weight", "audio_encoder.0.bias"]
    sources["fc1"] = ["fc_audio.0.weight", "fc_audio.0.bias"]
    sources["fc1_bn"] = [f"fc_audio.1.{p}" for p in _BN_PARAMS]
    sources["fc2"] = ["fc_audio.4.weight", "fc_audio.4.bias"]
    sources["embedding"] = ["fc_audio.5.weight", "fc_audio.5.bias"]
    return sources


def _check_keys_and_shapes(
    state: dict[str, np.ndarray], encoder: keras.Model, sources: dict[str, list[str]]
) -> None:
    """Raises one ValueError listing every missing key, unknown key and shape mismatch."""
    expected = {}  # torch key -> torch shape: the Keras weight's shape reversed.
    for layer_name, keys in sources.items():
        for key, weight in zip(keys, encoder.get_layer(layer_name).weights, strict=True):
            expected[key] = tuple(weight.shape)[::-1]
    given = {key for key in state if not key.endswith(_IGNORED_SUFFIX)}
    problems = [f"missing key {key}, shape {expected[key]}" for key in sorted(expected.keys() - given)]
    problems += [f"unknown key {key}" for key in sorted(given - expected.keys())]
    problems += [
        f"shape mismatch for {key}: got {tuple(np.shape(state[key]))}, expected {expected[key]}"
        for key in sorted(given & expected.keys())
        if tuple(np.shape(state[key])) != expected[key]
    ]
    if problems:
        raise errors.ConfigError(
            "the state dict is not the authors' AudioEncoder (keys audio_encoder.* and fc_audio.*; a larger "
            "model's state dict needs a key prefix):\n  " + "\n  ".join(problems)
        )


def _behind_authors_view(encoder: keras.Model) -> keras.Model:
    """Puts the authors' training-time `.view` in front of `encoder`: (B, 256, 48) -> same outputs.

    torch saw `x.view(-1, 1, 48, 256)[b, 0, m, t]`, i.e. `reshape(x, (B, 48, 256))[b, m, t]`; our encoder takes
    (time, mel), so it is fed that reshape transposed.
    """
    mel = keras.Input(shape=(CHUNK_FRAMES, N_MELS), name="mel")
    viewed = layers.Reshape((N_MELS, CHUNK_FRAMES), name="authors_view")(mel)
    viewed = layers.Permute((2, 1), name="authors_view_to_time_mel")(viewed)
    return keras.Model(inputs=mel, outputs=encoder(viewed), name=f"{encoder.name}_authors_training_layout")
