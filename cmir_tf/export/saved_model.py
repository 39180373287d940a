"""Exports the audio encoder, with the Melon front end, as a self-contained TensorFlow SavedModel.

Signatures (all float32 in and out, whatever dtype policy the encoder was built under):

- `serving_default` = `embed_mel`: `mel` (B, 256, 48) log-mel in dB -> `features` (B, 1024),
  `embedding` (B, 128);
- `embed_track_mel`: `mel` (T, 48), T >= 1 -> `features` (n, 1024), `embedding` (n, 128) for the
  n = ceil(T / 256) non-overlapping chunks (the last one completed by wrapping around to the first frames,
  see `cmir_tf.audio.chunk_mel`) and their means `mean_features` (1024,), `mean_embedding` (128,);
- `embed_waveform`: `waveform` (n,) 16 kHz mono in [-1, 1] -> the same plus `log_mel` (T, 48),
  T = 1 + ceil(n / 256) (the YAMNet convention). NaN/inf samples fail with InvalidArgumentError.

Asset `assets/cmir_tf.json`: front-end parameters, chunking, the caller's `metadata` (variant, training
flags), package, TensorFlow and Keras versions. The artefact holds only protocol buffers, variables and
that JSON file: no pickle. Next to them, `audio_encoder.keras` is the same encoder for Keras
(`cmir_tf.export.keras_file`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import keras
import tensorflow as tf

import cmir_tf
from cmir_tf.audio import CHUNK_PADDING, FRONT_END_PARAMS, chunk_mel, log_mel_spectrogram
from cmir_tf.constants import CHUNK_FRAMES, EMBEDDING_DIM, FEATURES_DIM, N_MELS
from cmir_tf.export.keras_file import save_keras_encoder

ASSET_NAME = "cmir_tf.json"
OUTPUTS = ("features", "embedding")
MAX_CHUNKS_PER_BATCH = 64  # bounds the encoder's activation memory for long tracks


class AudioEncoderModule(tf.Module):
    """The encoder and front end as `tf.function`s; what `export_audio_encoder` saves.

    Args:
      encoder: `build_audio_encoder()` model, (B, 256, 48) -> dict `features`, `embedding`; run in
        inference mode (BatchNorm running statistics, no dropout).
      asset_path: optional JSON file saved as the SavedModel asset.
      chunks_per_batch: most chunks of one track sent through the encoder at once (bounds memory).
    """

    def __init__(
        self, encoder: keras.Model, asset_path: str | None = None, chunks_per_batch: int = MAX_CHUNKS_PER_BATCH
    ):
        super().__init__(name="cmir_tf_audio_encoder")
        self.encoder = encoder
        self._chunks_per_batch = chunks_per_batch
        if asset_path is not None:
            self.metadata_file = tf.saved_model.Asset(asset_path)

    def _encode(self, mel: tf.Tensor) -> dict[str, tf.Tensor]:
        outputs = self.encoder(mel, training=False)
        return {name: tf.cast(outputs[name], tf.float32) for name in OUTPUTS}

    @tf.function(input_signature=[tf.TensorSpec([None, CHUNK_FRAMES, N_MELS], tf.float32, name="mel")])
    def embed_mel(self, mel: tf.Tensor) -> dict[str, tf.Tensor]:
        """(B, 256, 48) -> `features` (B, 1024), `embedding` (B, 128)."""
        return self._encode(mel)

    @tf.function(input_signature=[tf.TensorSpec([None, N_MELS], tf.float32, name="mel")])
    def embed_track_mel(self, mel: tf.Tensor) -> dict[str, tf.Tensor]:
        """(T, 48) -> per-chunk `features`, `embedding` and their means."""
        return self._embed_track(mel)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="waveform")])
    def embed_waveform(self, waveform: tf.Tensor) -> dict[str, tf.Tensor]:
        """(n,) 16 kHz waveform -> `embed_track_mel` outputs plus `log_mel` (T, 48)."""
        check = tf.debugging.assert_all_finite(waveform, "waveform contains NaN or inf samples")
        with tf.control_dependencies([check]):
            log_mel = log_mel_spectrogram(waveform)
        return {**self._embed_track(log_mel), "log_mel": log_mel}

    def _embed_track(self, mel: tf.Tensor) -> dict[str, tf.Tensor]:
        chunks = chunk_mel(mel)  # (n, 256, 48)
        n_chunks = tf.shape(chunks)[0]
        features = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[None, FEATURES_DIM])
        embedding = tf.TensorArray(tf.float32, size=0, dynamic_size=True, element_shape=[None, EMBEDDING_DIM])
        size = self._chunks_per_batch
        for step in tf.range((n_chunks + size - 1) // size):
            outputs = self._encode(chunks[step * size : (step + 1) * size])
            features = features.write(step, outputs["features"])
            embedding = embedding.write(step, outputs["embedding"])
        features, embedding = features.concat(), embedding.concat()
        return {
            "features": features,
            "embedding": embedding,
            "mean_features": tf.reduce_mean(features, axis=0),
            "mean_embedding": tf.reduce_mean(embedding, axis=0),
        }


def export_metadata(encoder: keras.Model, metadata: dict) -> dict:
    """The asset JSON's content: front end, chunking, `metadata` (verbatim) and versions."""
    return {
        "front_end": FRONT_END_PARAMS,
        "chunk_frames": CHUNK_FRAMES,
        "chunk_padding": CHUNK_PADDING,
        "signatures": ["serving_default", "embed_mel", "embed_track_mel", "embed_waveform"],
        "dtype_policy": encoder.dtype_policy.name,
        "metadata": metadata,
        "versions": {"cmir_tf": cmir_tf.__version__, "tensorflow": tf.__version__, "keras": keras.__version__},
    }


def export_audio_encoder(
    encoder: keras.Model, export_dir: str, metadata: dict | None = None, overwrite: bool = False
) -> str:
    """Writes the SavedModel described in the module docstring.

    The model is saved to a temporary folder next to `export_dir` and renamed into place, so `export_dir`
    is never left half-written.

    Args:
      encoder: the audio encoder (`build_audio_encoder()`), possibly built under a mixed dtype policy.
      export_dir: destination folder; must not exist unless `overwrite`.
      metadata: JSON-serialisable dict stored in the asset, e.g. `{"variant": "contr_cf_g", ...flags}`.
      overwrite: replace an existing `export_dir`.

    Returns:
      `export_dir`.
    """
    export_dir = os.path.abspath(export_dir)
    if os.path.exists(export_dir) and not overwrite:
        raise FileExistsError(f"{export_dir} exists; pass overwrite=True to replace it")
    parent = os.path.dirname(export_dir)
    os.makedirs(parent, exist_ok=True)
    content = json.dumps(export_metadata(encoder, metadata or {}), indent=2, sort_keys=True)
    with tempfile.TemporaryDirectory(dir=parent, prefix=".export-") as scratch:
        asset_path = os.path.join(scratch, ASSET_NAME)
        with open(asset_path, "w") as f:
            f.write(content)
        module = AudioEncoderModule(encoder, asset_path)
        staged = os.path.join(scratch, "saved_model")
        signatures = {
            "serving_default": module.embed_mel,
            "embed_mel": module.embed_mel,
            "embed_track_mel": module.embed_track_mel,
            "embed_waveform": module.embed_waveform,
        }
        tf.saved_model.save(module, staged, signatures=signatures)
        save_keras_encoder(encoder, staged)
        if os.path.exists(export_dir):
            shutil.move(export_dir, os.path.join(scratch, "replaced"))
        os.replace(staged, export_dir)
    return export_dir
