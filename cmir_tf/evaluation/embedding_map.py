"""A 2-D map (t-SNE) of the Melon test songs' embeddings, coloured by top-level genre.

What the encoder groups together, at a glance: each point is one test-set song (the mean of its chunk
embeddings, the vectors playlist continuation ranks), placed by scikit-learn's t-SNE after a PCA to at most
50 dimensions; the 10 most frequent top-level genres (first code of `song_gn_gnr_basket`) get a colour, the
others are grey. At most 5,000 songs, a seeded sample, keep t-SNE to a minute on 2 cores at Melon scale.
"""

from __future__ import annotations

import collections
import os

import numpy as np

from cmir_tf import errors
from cmir_tf.data.melon import load_json
from cmir_tf.evaluation.embeddings import Embedder
from cmir_tf.data.atomic import atomic_write
from cmir_tf.evaluation.playlist import embed_melon_songs, load_test_songs

MAX_SONGS = 5000
MAX_COLOURED_GENRES = 10
PCA_DIMS = 50
OTHER = "other"


def top_genre_labels(melon_dir: str, song_ids: list[int]) -> list[str]:
    """Per song, its first top-level genre as `"GN0100 Ballad"` (the code alone when the name is not ASCII,
    as in the real Melon's Korean names, which default fonts cannot draw), or "unknown"."""
    names = load_json(os.path.join(melon_dir, "genre_gn_all.json"))
    meta = {song["id"]: song for song in load_json(os.path.join(melon_dir, "song_meta.json"))}
    labels = []
    for song_id in song_ids:
        codes = meta.get(song_id, {}).get("song_gn_gnr_basket") or []
        name = names.get(codes[0], "") if codes else ""
        labels.append("unknown" if not codes else f"{codes[0]} {name}" if name.isascii() and name else codes[0])
    return labels


def tsne_2d(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """(N, D) -> (N, 2) t-SNE coordinates (cosine geometry: rows L2-normalised, PCA to <= 50 dims first)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    dims = min(PCA_DIMS, *x.shape)
    x = PCA(dims, random_state=seed).fit_transform(x) if dims < x.shape[1] else x
    perplexity = min(30.0, (len(x) - 1) / 3)
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(x)


def save_map_png(points: np.ndarray, labels: list[str], path: str, title: str) -> None:
    """Scatter plot of `points` (N, 2), one colour per frequent label (legend with counts), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = collections.Counter(labels)
    coloured = [label for label, _ in counts.most_common(MAX_COLOURED_GENRES)]
    fig, ax = plt.subplots(figsize=(7.5, 6), dpi=100)
    labels_array = np.asarray(labels)
    others = ~np.isin(labels_array, coloured)
    if others.any():
        ax.scatter(*points[others].T, s=6, c="lightgrey", label=f"{OTHER} ({others.sum()})")
    for i, label in enumerate(coloured):
        rows = labels_array == label
        ax.scatter(*points[rows].T, s=8, color=plt.cm.tab10(i), label=f"{label} ({rows.sum()})")
    ax.set(xticks=[], yticks=[])
    ax.set_title(title, fontsize=10)
    ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, markerscale=2, frameon=False)
    atomic_write(path, lambda f: fig.savefig(f, format="png", bbox_inches="tight"))
    plt.close(fig)


def melon_embedding_map(embedder: Embedder, melon_dir: str, data_dir: str, path: str, *,
                        cache_dir: str | None = None, seed: int = 0, title: str = "",
                        test_songs: np.ndarray | None = None) -> dict:
    """Writes the module docstring's map of `embedder` to `path` (PNG): of the prepared test split, or of
    `test_songs` (evaluate.py `--test_songs`) when given. Songs whose spectrogram is missing or unreadable are
    left out (counted). Returns `{"songs": N, "skipped": n, "genres": {label: count}}`."""
    songs = (load_test_songs(data_dir) if test_songs is None else np.unique(test_songs)).tolist()
    if len(songs) > MAX_SONGS:
        songs = sorted(np.random.default_rng(seed).choice(songs, MAX_SONGS, replace=False).tolist())
    vectors, skipped = embed_melon_songs(embedder, melon_dir, np.asarray(songs), cache_dir=cache_dir,
                                         allow_missing=True, what="the test split")
    kept = [s for s in songs if str(s) in vectors]
    if len(kept) < 5:
        raise errors.DatasetError(f"the embedding map needs at least 5 test songs with spectrograms, found {len(kept)}")
    labels = top_genre_labels(melon_dir, kept)
    points = tsne_2d(np.concatenate([vectors[str(s)] for s in kept]), seed)
    save_map_png(points, labels, path, title or f"Melon test songs by top-level genre (t-SNE of {embedder.output})")
    return {"songs": len(kept), "skipped": skipped["missing"] + skipped["undecodable"], "genres": dict(collections.Counter(labels))}
