"""Collaborative-filtering song vectors: LightFM WARP on the binary playlist x song matrix, epoch by epoch.

The fit runs one `fit_partial` epoch at a time and pickles the whole LightFM object (weights, AdaGrad
accumulators and its NumPy RandomState) every `CHECKPOINT_EVERY` epochs, so a killed fit resumes at its last
checkpoint. On one thread a resumed fit ends with bitwise the vectors of an uninterrupted one (and `fit`
over E epochs equals E `fit_partial` epochs: LightFM draws each epoch's shuffle from the same RandomState).
"""

from __future__ import annotations

import os
import pickle
import time
from collections.abc import Collection, Sequence

import numpy as np
import scipy.sparse as sp
from absl import logging
from lightfm import LightFM
from tqdm import tqdm

from cmir_tf.constants import CF_DIM
from cmir_tf.data.atomic import atomic_path

CHECKPOINT_EVERY = 5  # epochs between checkpoints of the fit (at Melon scale, 1 thread: about 13 min)


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
    checkpoint_path: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fits LightFM (`loss="warp"`) and returns the song (item) and playlist (user) vectors of the fit.

    With `threads=1` the result is reproducible for a seed; more threads (Hogwild) are faster but not.
    With `checkpoint_path`, the fit resumes from the checkpoint there (if it is of this matrix and these
    settings), saves one every `CHECKPOINT_EVERY` epochs (atomically), and removes it at the end. Progress:
    a bar per epoch with its ETA on a terminal, and a log line with the ETA at each checkpoint.

    Returns:
      song vectors (n_items, components + 1) and playlist vectors (n_playlists, components + 1) float32:
      a playlist's user factors followed by its user bias, row i for row i of `interactions`. LightFM scores
      a song for a playlist by user factors . item factors + user bias + item bias.
    """
    if interactions.nnz == 0:
        raise ValueError("the playlist x song matrix is empty: no playlist contains a train/validation song")
    settings = {"components": components, "learning_rate": learning_rate, "max_sampled": max_sampled,
                "seed": seed, "shape": interactions.shape, "nnz": interactions.nnz}
    model, done = _load_checkpoint(checkpoint_path, settings)
    if model is None:
        model = LightFM(
            no_components=components,
            loss="warp",
            learning_rate=learning_rate,
            max_sampled=max_sampled,
            random_state=np.random.RandomState(seed),
        )
    else:
        logging.info("LightFM: resumed from %s after epoch %d/%d", checkpoint_path, done, epochs)
    coo = interactions.tocoo()
    start = time.perf_counter()
    bar = tqdm(total=epochs, initial=done, desc="LightFM WARP", unit="epoch")
    for epoch in range(done + 1, epochs + 1):
        model.fit_partial(coo, epochs=1, num_threads=threads)
        bar.update()
        if checkpoint_path and epoch % CHECKPOINT_EVERY == 0 and epoch < epochs:
            save_checkpoint(checkpoint_path, model, epoch, settings)
            per_epoch = (time.perf_counter() - start) / (epoch - done)
            logging.info("LightFM epoch %d/%d: %.1f s per epoch, ETA %.0f s (checkpoint saved)", epoch, epochs,
                         per_epoch, per_epoch * (epochs - epoch))
    bar.close()
    item_biases, item_factors = model.get_item_representations()
    user_biases, user_factors = model.get_user_representations()
    songs = np.concatenate([item_factors, item_biases[:, None]], axis=1).astype(np.float32)
    playlists = np.concatenate([user_factors, user_biases[:, None]], axis=1).astype(np.float32)
    if checkpoint_path and os.path.exists(checkpoint_path):
        os.remove(checkpoint_path)  # the caller writes the vectors next; a rerun after that never fits again
    return songs, playlists


def save_checkpoint(path: str, model: LightFM, epochs_done: int, settings: dict) -> None:
    """Pickles the whole model (weights, AdaGrad state, RandomState) after `epochs_done` epochs, atomically."""
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        pickle.dump({"epochs_done": epochs_done, "settings": settings, "model": model}, f, pickle.HIGHEST_PROTOCOL)


def _load_checkpoint(path: str | None, settings: dict) -> tuple[LightFM | None, int]:
    """(model, epochs done) from a checkpoint of the same matrix and settings, else (None, 0)."""
    if not path or not os.path.exists(path):
        return None, 0
    with open(path, "rb") as f:
        state = pickle.load(f)
    if state["settings"] != settings:
        logging.info("LightFM: %s is of another matrix or settings; starting over", path)
        return None, 0
    return state["model"], state["epochs_done"]
