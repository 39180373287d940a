"""Word embeddings of genre codes and playlist tags: gensim word2vec over playlists' sentences, or (genres) a
given matrix such as the authors'."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from gensim.models import Word2Vec


def train_word2vec(
    sentences: Sequence[Sequence[str]], dim: int = 200, seed: int = 0, epochs: int = 5,
    vocab: dict[str, int] | None = None,
) -> tuple[dict[str, int], np.ndarray]:
    """Trains word2vec (gensim defaults: CBOW, negative sampling) on one sentence per playlist.

    Sentences: the genre codes of a playlist's songs, or a playlist's tags. The window is the longest sentence
    so every word of a playlist is context for every other; min_count 1; one worker so the result is
    reproducible for a seed.

    Args:
      vocab: the words to embed and their ids 1..V (e.g. the tag vocabulary); words outside it are left out of
        the sentences. Default: every word, ids in order of first appearance.

    Returns:
      (vocab, matrix): `vocab` maps word -> id from 1 (0 = padding); `matrix` is (V + 1, dim) float32 with
      row `vocab[word]` its vector and row 0 zeros.
    """
    sentences = [[w for w in s if vocab is None or w in vocab] for s in sentences]
    sentences = [s for s in sentences if s]
    if not sentences:
        raise ValueError("no playlist has a word to embed: cannot train word2vec")
    if vocab is not None and {w for s in sentences for w in s} != set(vocab):
        raise ValueError("every vocabulary word must occur in the sentences")
    model = Word2Vec(
        sentences,
        vector_size=dim,
        window=max(len(s) for s in sentences),
        min_count=1,
        workers=1,
        seed=seed,
        epochs=epochs,
    )
    if vocab is None:
        vocab = {word: i + 1 for i, word in enumerate(dict.fromkeys(w for s in sentences for w in s))}
    words = sorted(vocab, key=vocab.get)
    matrix = np.zeros((len(words) + 1, dim), np.float32)
    matrix[1:] = model.wv[words]
    return vocab, matrix


def from_reference(code_to_index: dict[str, int], matrix: np.ndarray) -> tuple[dict[str, int], np.ndarray]:
    """Adopts a given matrix in the authors' form: (V + 1, F), row 0 padding, code index i (from 0) at row i + 1.

    Returns (vocab code -> id from 1, (V + 1, F) float32 with row 0 zeros), the same form as training.
    """
    indices = sorted(code_to_index.values())
    if indices != list(range(len(indices))) or matrix.ndim != 2 or matrix.shape[0] != len(indices) + 1:
        raise ValueError(f"code map with {len(indices)} indices does not fit a matrix of shape {matrix.shape}")
    if matrix[0].any():
        raise ValueError("row 0 of the given genre matrix must be the zero padding vector")
    return {code: index + 1 for code, index in code_to_index.items()}, matrix.astype(np.float32)
