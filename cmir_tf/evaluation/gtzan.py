"""GTZAN genre classification in the paper's protocol.

Tracks come from the fault-filtered split (443 train / 197 validation / 290 test, package data). Each track's
centred 29.1 s segment is cut into non-overlapping 256-frame chunks, and every chunk is one training instance
of an MLP with one hidden layer of 256 ReLU units (early stopping on the validation chunks). A test track's
genre is the majority vote of its chunks' argmax predictions (ties go to the larger summed probability).
Accuracy over test tracks, mean ± std over repeats with seeds seed, seed + 1, ...

Random baseline: the same protocol on standard-normal random embeddings of the same shape (chunks per track,
dimension), i.e. chance level (~10 %) measured through the identical pipeline.
"""

from __future__ import annotations

import os
from importlib import resources

import numpy as np

from cmir_tf import errors
from cmir_tf.evaluation import probes
from cmir_tf.evaluation.embeddings import Embedder, embed_listed_files
from cmir_tf.data.atomic import atomic_write

GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
SPLIT_FILES = {"train": "train_filtered.txt", "validation": "valid_filtered.txt", "test": "test_filtered.txt"}
SEGMENT = "center29.1"


def load_split(split: str, splits_dir: str | None = None) -> list[str]:
    """Relative paths `<genre>/<genre>.000NN.wav` of a split ("train" | "validation" | "test").

    Reads the package's copy of the fault-filtered lists unless `splits_dir` holds other ones.
    """
    if split not in SPLIT_FILES:
        raise errors.ConfigError(f"split must be one of {sorted(SPLIT_FILES)}, got {split!r}")
    if splits_dir:
        with open(os.path.join(splits_dir, SPLIT_FILES[split])) as f:
            text = f.read()
    else:
        text = resources.files("cmir_tf").joinpath(f"splits/gtzan/{SPLIT_FILES[split]}").read_text()
    paths = [line.strip() for line in text.splitlines() if line.strip()]
    for path in paths:
        genre_of(path)
    return paths


def genre_of(relpath: str) -> int:
    """Genre index (into `GENRES`) of `<genre>/<genre>.000NN.<ext>`."""
    genre = relpath.split("/")[0]
    if genre not in GENRES:
        raise errors.DatasetError(f"{relpath!r} is not under one of the GTZAN genre folders {GENRES}")
    return GENRES.index(genre)


def audio_root(gtzan_dir: str) -> str:
    """The folder holding the genre folders: `gtzan_dir/genres` if present, else `gtzan_dir`."""
    genres = os.path.join(gtzan_dir, "genres")
    return genres if os.path.isdir(genres) else gtzan_dir


def _chunk_dataset(embeddings: dict[str, np.ndarray], paths: list[str]) -> tuple[np.ndarray, ...]:
    """Chunk instances of the embedded `paths`: x (n_chunks, D), genre y (n_chunks,), track index (n_chunks,)."""
    paths = [p for p in paths if p in embeddings]
    x = np.concatenate([embeddings[p] for p in paths], axis=0)
    lengths = [len(embeddings[p]) for p in paths]
    y = np.repeat([genre_of(p) for p in paths], lengths)
    track = np.repeat(np.arange(len(paths)), lengths)
    return x, y, track


def majority_vote(probabilities: np.ndarray, track: np.ndarray, n_tracks: int) -> np.ndarray:
    """Track predictions (n_tracks,) from chunk class probabilities (n_chunks, C) and chunk track indices.

    The most frequent chunk argmax wins; among tied classes, the larger summed probability.
    """
    n_classes = probabilities.shape[1]
    votes = np.zeros((n_tracks, n_classes))
    np.add.at(votes, (track, probabilities.argmax(axis=1)), 1.0)
    summed = np.zeros((n_tracks, n_classes))
    np.add.at(summed, track, probabilities)
    chunks = np.bincount(track, minlength=n_tracks)[:, None]
    return (votes + summed / (chunks + 1.0)).argmax(axis=1)  # summed / (chunks + 1) < 1: breaks ties only


def _protocol(embeddings: dict[str, np.ndarray], splits: dict[str, list[str]], config: probes.ProbeConfig,
              repeats: int, seed: int, desc: str) -> tuple[dict, np.ndarray]:
    """Accuracy over repeats and the confusion matrix (true genre, predicted) summed over repeats."""
    x_train, y_train, _ = _chunk_dataset(embeddings, splits["train"])
    x_val, y_val, _ = _chunk_dataset(embeddings, splits["validation"])
    x_test, _, track = _chunk_dataset(embeddings, splits["test"])
    y_test = np.array([genre_of(p) for p in splits["test"] if p in embeddings])
    confusion = np.zeros((len(GENRES), len(GENRES)), dtype=np.int64)

    probe = probes.Probe(probes.build_genre_mlp(x_train, len(GENRES)), "sparse_categorical_crossentropy", config)

    def run() -> dict[str, float]:
        probe.fit((x_train, y_train), (x_val, y_val))
        predicted = majority_vote(probe.predict(x_test), track, len(y_test))
        np.add.at(confusion, (y_test, predicted), 1)
        return {"accuracy": float(np.mean(predicted == y_test))}

    return probes.repeat(run, repeats, seed, desc)["accuracy"], confusion


def evaluate_gtzan(embedder: Embedder, gtzan_dir: str, *, cache_dir: str | None = None,
                   config: probes.ProbeConfig = probes.ProbeConfig(), repeats: int = 10, seed: int = 0,
                   allow_missing: bool = False, baseline: bool = True, splits_dir: str | None = None,
                   confusion_png: str | None = None) -> dict:
    """GTZAN genre accuracy of `embedder` (and of the random baseline).

    Args:
      embedder: chunk embedder (e.g. `SavedModelEmbedder`).
      gtzan_dir: folder with `genres/<genre>/<genre>.000NN.{au,wav}` (or the `genres` folder itself).
      cache_dir: embedding cache root (None: no cache).
      config: probe training settings; repeats, seed: repeats use seeds seed .. seed + repeats - 1.
      allow_missing: skip (and count) listed files that are missing or undecodable instead of raising.
      baseline: also run the protocol on random embeddings.
      splits_dir: other split lists (default: the package's fault-filtered ones).
      confusion_png: where to write the row-normalised confusion matrix summed over repeats.

    Returns:
      JSON-ready dict: `accuracy` {mean, std, values}, `random_baseline` {accuracy}, `confusion_matrix`
      (10 x 10 counts, rows = true genre), `genres`, `n_tracks` per split, `skipped`, `dim`, `repeats`.
    """
    splits = {split: load_split(split, splits_dir) for split in SPLIT_FILES}
    embeddings, skipped = embed_listed_files(
        embedder, audio_root(gtzan_dir), [p for paths in splits.values() for p in paths], dataset="gtzan",
        segment=SEGMENT, mean=False, cache_dir=cache_dir, allow_missing=allow_missing,
        what="the GTZAN split lists")
    accuracy, confusion = _protocol(embeddings, splits, config, repeats, seed, "GTZAN probes")
    result = {
        "task": "gtzan", "accuracy": accuracy, "confusion_matrix": confusion.tolist(), "genres": list(GENRES),
        "n_tracks": {split: sum(p in embeddings for p in paths) for split, paths in splits.items()},
        "skipped": skipped, "dim": embedder.dim, "embedding": embedder.output, "repeats": repeats,
    }
    if baseline:
        rng = np.random.default_rng(seed)
        random = {p: rng.standard_normal(e.shape).astype(np.float32) for p, e in embeddings.items()}
        result["random_baseline"] = {"accuracy": _protocol(random, splits, config, repeats, seed,
                                                           "GTZAN random baseline")[0]}
    if confusion_png:
        save_confusion_png(confusion, confusion_png)
    return result


def save_confusion_png(confusion: np.ndarray, path: str) -> None:
    """Writes the row-normalised confusion matrix (rows = true genre) as a PNG, atomically."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rates = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(6, 5.5))
    image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(len(GENRES)), GENRES, rotation=45, ha="right")
    ax.set_yticks(range(len(GENRES)), GENRES)
    ax.set_xlabel("predicted genre")
    ax.set_ylabel("true genre")
    for (i, j), rate in np.ndenumerate(rates):
        ax.text(j, i, f"{rate:.2f}", ha="center", va="center", fontsize=7,
                color="white" if rate > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120))
    plt.close(fig)
