"""Genre encoder: word2vec genre embeddings through multi-head self-attention (paper eq. 5-7).

The playlist-tag encoder (`build_tag_encoder`, docs/playlist_tags.md) is the same architecture over a song's
tag bag: one builder, the modality names its input and layers.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from cmir_tf.constants import EMBEDDING_DIM
from cmir_tf.models.input_checks import CheckIdRange, output_dtype


def build_genre_encoder(
    word2vec: np.ndarray,
    num_heads: int = 4,
    dropout: float = 0.5,
    name: str | None = None,
    modality: str = "genre",
) -> keras.Model:
    """Builds the genre encoder (or, with `modality="tag"`, the playlist-tag encoder).

    Each song's genre ids are embedded with a trainable table initialised from word2vec, contextualised by
    4-head self-attention whose keys exclude padding, passed through V = V' + Dropout(Dense(V')), summed over
    the non-padded positions and layer-normalised.

    Trainable parameters: (V + 1) F_w (the word2vec table) + 3 * 128 F_w (attention query, key and value
    projections, no biases) + 128^2 (attention output) + 128^2 + 128 (skip dense) + 2 * 128 (layer norm).

    Args:
      word2vec: (V + 1, F_w) genre vectors; row 0 is the padding row (zeros), row i + 1 the vocabulary's i-th code.
      num_heads: attention heads; the 128-d attention output is split evenly between them.
      dropout: dropout rate of the skip-connected feed-forward layer.
      name: Keras model name (default `<modality>_encoder`).
      modality: names the input (`<modality>_ids`) and the layers (`<modality>_word2vec`, ...).

    Returns:
      A functional `keras.Model` mapping `<modality>_ids` (batch, Tw) int32, Tw <= 10, 0 = padding, to a
      (batch, 128) float embedding. Extra padding does not change the output.
    """
    word2vec = np.asarray(word2vec, dtype="float32")
    if word2vec.ndim != 2 or word2vec.shape[0] < 2:
        raise ValueError(f"word2vec must be a (V + 1, F_w) matrix with V >= 1, got shape {word2vec.shape}")
    if np.any(word2vec[0] != 0):
        raise ValueError("word2vec row 0 is the padding row and must be all zeros")
    vocab_rows, word_dim = word2vec.shape

    genre_ids = keras.Input(shape=(None,), dtype="int32", name=f"{modality}_ids")
    ids = CheckIdRange(vocab_rows, modality, name=f"check_{modality}_ids")(genre_ids)
    is_genre = ops.not_equal(ids, 0)  # (batch, Tw) bool
    vectors = layers.Embedding(
        vocab_rows, word_dim, embeddings_initializer=keras.initializers.Constant(word2vec), name=f"{modality}_word2vec"
    )(ids)
    attention_mask = ops.expand_dims(is_genre, axis=1)  # (batch, 1 query, Tw keys): keys exclude padding
    attended = layers.MultiHeadAttention(
        num_heads=num_heads,
        key_dim=EMBEDDING_DIM // num_heads,
        output_shape=EMBEDDING_DIM,
        use_bias=False,
        name="self_attention",
    )(vectors, vectors, attention_mask=attention_mask)
    update = layers.Dropout(dropout, name="skip_dropout")(layers.Dense(EMBEDDING_DIM, name="skip_dense")(attended))
    contextual = layers.Add(name="skip_add")([attended, update])  # (batch, Tw, 128)
    weights = ops.expand_dims(ops.cast(is_genre, contextual.dtype), axis=-1)
    pooled = ops.sum(contextual * weights, axis=1)  # (batch, 128): sum over the song's genres only
    embedding = layers.LayerNormalization(epsilon=1e-6, name="embedding", dtype=output_dtype())(pooled)
    return keras.Model(inputs=genre_ids, outputs=embedding, name=name or f"{modality}_encoder")


def build_tag_encoder(word2vec: np.ndarray, num_heads: int = 4, dropout: float = 0.5) -> keras.Model:
    """The playlist-tag encoder: `build_genre_encoder` over (V_t + 1, F_w) tag vectors, input `tag_ids`
    (batch, 10) int32 (0 = padding) -> (batch, 128)."""
    return build_genre_encoder(word2vec, num_heads, dropout, modality="tag")
