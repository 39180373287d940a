"""Encoders (Keras functional models) and the six training variants."""

from cmir_tf.models.audio_encoder import build_audio_encoder

__all__ = ["build_audio_encoder"]
