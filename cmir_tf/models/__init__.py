"""Encoders (Keras functional models) and the training variants."""

from cmir_tf.models.audio_encoder import build_audio_encoder
from cmir_tf.models.cf_encoder import build_cf_encoder
from cmir_tf.models.cross_modal import VARIANT_LOSSES, CrossModalModel, LossWeights, build_variant
from cmir_tf.models.genre_encoder import build_genre_encoder, build_tag_encoder

__all__ = [
    "build_audio_encoder",
    "build_genre_encoder",
    "build_cf_encoder",
    "build_tag_encoder",
    "CrossModalModel",
    "LossWeights",
    "VARIANT_LOSSES",
    "build_variant",
]
