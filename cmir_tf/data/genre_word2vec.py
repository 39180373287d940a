"""Genre embeddings: gensim word2vec over playlists' genre codes, or a given matrix (e.g. the authors')."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from gensim.models import Word2Vec


def train_genre_word2vec(
    sentences: Sequence[Sequence[str]], dim: int = 200, seed: int = 0, epochs: int = 5
) -> tuple[dict[str, int], np.ndarray]:
    """Trains word2vec (gensim defaults: CBOW, negative sampling) on genre-code sentences.

    One sentence per playlist: the genre codes of its songs. The window is the longest sentence so every code
    in a playlist is context for every other; min_count 1; one worker so the result is reproducible for a seed.

    Returns:
      (vocab, matrix): `vocab` maps code -> id from 1 (0 = padding), ids in order of first appearance;
      `matrix` is (V + 1, dim) float32 with row `vocab[code]` its vector and row 0 zeros.
    """
    sentences = [list(s) for s in sentences if len(s)]
    if not sentences:
        raise ValueError("no playlist has a song with genres: cannot train genre word2vec")
    model = Word2Vec(
        sentences,
        vector_size=dim,
        window=max(len(s) for s in sentences),
        min_count=1,
        workers=1,
        seed=seed,
        epochs=epochs,
    )
    codes = list(dict.fromkeys(code for s in sentences for code in s))
    vocab = {code: i + 1 for i, code in enumerate(codes)}
    matrix = np.zeros((len(codes) + 1, dim), np.float32)
    matrix[1:] = model.wv[codes]
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
