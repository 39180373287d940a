"""Playlist (collaborative-filtering) encoder over LightFM-WARP item vectors."""

from __future__ import annotations

import keras
from keras import layers

from cmir_tf.constants import CF_DIM, EMBEDDING_DIM
from cmir_tf.models.input_checks import output_dtype


def build_cf_encoder(dropout: float = 0.5, hidden_units: int = 128, name: str = "cf_encoder") -> keras.Model:
    """Builds the CF encoder: Dense 128 -> ReLU -> Dropout -> Dense 128 -> LayerNorm.

    Args:
      dropout: dropout rate after the hidden layer.
      hidden_units: width of the hidden layer.
      name: Keras model name.

    Returns:
      A functional `keras.Model` mapping `cf` (batch, 301): 300 LightFM item factors followed by the item bias,
      to a (batch, 128) float embedding.
    """
    cf = keras.Input(shape=(CF_DIM,), name="cf")
    h = layers.Dense(hidden_units, activation="relu", name="fc1")(cf)
    h = layers.Dropout(dropout, name="fc_dropout")(h)
    h = layers.Dense(EMBEDDING_DIM, name="fc2")(h)
    embedding = layers.LayerNormalization(epsilon=1e-6, name="embedding", dtype=output_dtype())(h)
    return keras.Model(inputs=cf, outputs=embedding, name=name)
