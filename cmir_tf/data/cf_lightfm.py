"""Collaborative-filtering song vectors: LightFM WARP on the binary playlist x song matrix."""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import scipy.sparse as sp
from lightfm import LightFM

from cmir_tf.constants import CF_DIM


def interaction_matrix(
    playlists: Sequence[Sequence[int]], allowed_songs: Collection[int]
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Binary (playlists, songs) matrix restricted to `allowed_songs` (train + validation).

    Returns (matrix float32 CSR of 0/1, song_ids (n_items,) int64 sorted: column j is song `song_ids[j]`).
    Songs outside `allowed_songs` (test songs, dropped songs) never enter; empty playlists are removed.
    """
    allowed = set(allowed_songs)
    rows = [sorted({s for s in songs if s in allowed}) for songs in playlists]
    rows = [r for r in rows if r]
    song_ids = np.asarray(sorted({s for r in rows for s in r}), np.int64)
    column = {s: j for j, s in enumerate(song_ids.tolist())}
    indptr = np.cumsum([0] + [len(r) for r in rows])
    indices = np.asarray([column[s] for r in rows for s in r], np.int32)
    data = np.ones(len(indices), np.float32)
    return sp.csr_matrix((data, indices, indptr), shape=(len(rows), len(song_ids))), song_ids


def fit_vectors(
    interactions: sp.csr_matrix,
    components: int = CF_DIM - 1,
    epochs: int = 50,
    learning_rate: float = 0.05,
    max_sampled: int = 40,
    threads: int = 1,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Fits LightFM (`loss="warp"`) and returns the song (item) and playlist (user) vectors of the fit.

    With `threads=1` the result is reproducible for a seed; more threads (Hogwild) are faster but not.

    Returns:
      song vectors (n_items, components + 1) and playlist vectors (n_playlists, components + 1) float32:
      a playlist's user factors followed by its user bias, row i for row i of `interactions`. LightFM scores
      a song for a playlist by user factors . item factors + user bias + item bias.
    """
    if interactions.nnz == 0:
        raise ValueError("the playlist x song matrix is empty: no playlist contains a train/validation song")
    model = LightFM(
        no_components=components,
        loss="warp",
        learning_rate=learning_rate,
        max_sampled=max_sampled,
        random_state=np.random.RandomState(seed),
    )
    model.fit(interactions.tocoo(), epochs=epochs, num_threads=threads)
    item_biases, item_factors = model.get_item_representations()
    user_biases, user_factors = model.get_user_representations()
    songs = np.concatenate([item_factors, item_biases[:, None]], axis=1).astype(np.float32)
    playlists = np.concatenate([user_factors, user_biases[:, None]], axis=1).astype(np.float32)
    return songs, playlists
