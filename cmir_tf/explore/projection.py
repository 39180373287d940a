"""The 2-D map of an index: every song's joint-space embedding placed in the plane, computed once per index and
stored in its folder (`map.npy`, (N, 2) float32, written atomically; recomputed when missing or of another size).

Method: openTSNE's t-SNE after a PCA to 50 dimensions, with Annoy neighbours, cosine geometry (the embeddings
are unit rows), PCA initialisation and a fixed seed; from `FFT_SONGS` songs on, its FFT-accelerated gradient
(Linderman et al. 2019), O(N) per iteration. t-SNE keeps what the page is for, neighbourhoods: songs that sound
alike sit together. scikit-learn's Barnes-Hut t-SNE is O(N log N) per iteration and single-threaded for the
gradient; openTSNE's FFT maps 50,000 songs within the 2-minute budget on 2 cores (docs/explore.md: measured).
Fewer than `MIN_TSNE_SONGS` songs are placed by their two principal components (t-SNE has little to keep).
"""

from __future__ import annotations

import os
import sys

import numpy as np

from cmir_tf import errors
from cmir_tf.data.atomic import atomic_write
from cmir_tf.joint import unit_rows

MAP_FILE = "map.npy"
PCA_DIMS = 50
MIN_TSNE_SONGS = 100
FFT_SONGS = 10_000  # openTSNE's own switch from Barnes-Hut to the FFT gradient
# Iterations after openTSNE's 250 of early exaggeration, half its default 500: on 20,000 clustered 128-d vectors
# the map kept 27.3 % of each point's 10 nearest neighbours against 27.8 %, its optimisation 34 s of CPU against 73.
TSNE_ITERATIONS = 250


def principal_components(vectors: np.ndarray, n: int) -> np.ndarray:
    """(N, D) -> (N, n) coordinates on the first `n` principal axes (zero columns where N or D is smaller)."""
    centred = vectors - vectors.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    found = centred @ axes[:n].T
    return np.pad(found, ((0, 0), (0, n - found.shape[1]))) if found.shape[1] < n else found


def tsne_threads(n_songs: int) -> int:
    """openTSNE's threads: one below `FFT_SONGS` (its Barnes-Hut regime, where each iteration is short and
    waiting for a second thread on a busy machine costs more than it saves: 1,000 songs in 4 s against 26 s
    on 2 shared cores, openTSNE's default 750 iterations), every usable core above."""
    if n_songs < FFT_SONGS:
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def project_2d(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N, D) embeddings -> (N, 2) float32 map coordinates (t-SNE, or PCA below `MIN_TSNE_SONGS` songs)."""
    unit = unit_rows(vectors).astype(np.float64)
    if len(unit) < MIN_TSNE_SONGS:
        return principal_components(unit, 2).astype(np.float32)
    import openTSNE  # imported here: only a new map needs it

    reduced = principal_components(unit, min(PCA_DIMS, unit.shape[1]))
    tsne = openTSNE.TSNE(n_components=2, n_iter=TSNE_ITERATIONS, metric="cosine", neighbors="annoy",
                         negative_gradient_method="auto", initialization="pca", n_jobs=tsne_threads(len(unit)),
                         random_state=seed, verbose=False)
    return np.asarray(tsne.fit(reduced), dtype=np.float32)


def index_map(index_dir: str, vectors: np.ndarray) -> np.ndarray:
    """The (N, 2) map of the index in `index_dir` whose (N, D) embeddings are `vectors`: read from its
    `map.npy`, or computed (one line on stderr) and stored there; an index folder that cannot be written keeps
    the map for this run only (said on stderr)."""
    path = os.path.join(index_dir, MAP_FILE)
    if os.path.exists(path):
        try:
            stored = np.load(path)
        except (OSError, ValueError):
            stored = None  # damaged: computed again below
        if stored is not None and stored.shape == (len(vectors), 2) and np.isfinite(stored).all():
            return stored.astype(np.float32)
    print(f"cmir-explore: mapping {len(vectors)} songs in 2-D (once per index)", file=sys.stderr, flush=True)
    found = project_2d(vectors)
    try:
        atomic_write(path, lambda f: np.save(f, found))
    except OSError as error:
        print(f"cmir-explore: map not stored ({errors.describe_os_error(error, path)}): computed for this run only",
              file=sys.stderr)
    return found
