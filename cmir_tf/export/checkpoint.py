"""Restores an encoder (audio, genre or CF) from a training `tf.train.Checkpoint`, for export."""

from __future__ import annotations

import keras
import tensorflow as tf

TRAINING_OBJECT_PATH = "model.audio_encoder"  # where training's Checkpoint(model=...) keeps the encoder


def restore_audio_encoder(encoder: keras.Model, checkpoint: str, object_path: str = TRAINING_OBJECT_PATH) -> str:
    """Loads the encoder variables saved at dotted `object_path` of a checkpoint into `encoder`.

    Other saved objects (optimizer, other encoders, counters) are ignored, but every variable of `encoder`
    must be found (`AssertionError` otherwise). Works for any Keras encoder: training keeps the genre and CF
    encoders at `model.genre_encoder` and `model.cf_encoder`.

    Args:
      encoder: a `build_audio_encoder()` model (or a genre / CF encoder built like the trained one).
      checkpoint: a checkpoint prefix, or a folder (its latest checkpoint is read).
      object_path: dotted attribute path of the encoder from the checkpoint's root.

    Returns:
      The checkpoint prefix read.
    """
    prefix = tf.train.latest_checkpoint(checkpoint) if tf.io.gfile.isdir(checkpoint) else checkpoint
    if prefix is None:
        raise FileNotFoundError(f"no checkpoint in {checkpoint}")
    node = encoder
    for name in reversed(object_path.split(".")):
        node = tf.train.Checkpoint(**{name: node})
    status = node.read(prefix)
    status.expect_partial()
    status.assert_existing_objects_matched()
    return prefix
