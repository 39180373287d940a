"""The audio encoder as a native Keras file, next to the SavedModel, for reuse and fine-tuning in Keras.

`<export_dir>/audio_encoder.keras` holds the functional `build_audio_encoder()` model (architecture, weights,
BatchNorm statistics, dtype policy; no optimizer). Load it with `cmir_tf.export.load_keras_encoder(model)`
(which checks the export first: `ExportedModel`), or with
`keras.saving.load_model(path)` after `import cmir_tf.models`: the package's custom layers
(`FusedBatchNormalization`, `AffineInputConv2D`, `CheckIdRange`) register with
`keras.saving.register_keras_serializable` in the modules that define them, which this module imports. Its input is `mel` (batch, 256, 48) log-mel in dB, its outputs the dict `features`
(batch, 1024) and `embedding` (batch, 128), equal to the SavedModel's `embed_mel` in inference mode.
"""

from __future__ import annotations

import os

import keras

from cmir_tf.models import audio_encoder  # noqa: F401  (defines and registers the custom layers)

KERAS_FILE = "audio_encoder.keras"


def save_keras_encoder(encoder: keras.Model, export_dir: str) -> str:
    """Writes `encoder` to `<export_dir>/audio_encoder.keras` (without optimizer state) and returns the path."""
    path = os.path.join(export_dir, KERAS_FILE)
    encoder.save(path, include_optimizer=False)
    return path


def read_keras_file(export_dir: str) -> keras.Model:
    """The encoder saved by `save_keras_encoder` in `export_dir`, unchecked (`ExportedModel.keras_encoder`
    checks the export first)."""
    return keras.saving.load_model(os.path.join(export_dir, KERAS_FILE))
