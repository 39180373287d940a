"""MTG-Jamendo auto-tagging (split 0: genre, instrument, mood/theme) in the paper's protocol.

A track's embedding is the mean of its chunk embeddings over the full track. Per category, an MLP
(Dense 128 -> BN -> ReLU, Dense 64 -> BN -> ReLU, dropout, sigmoid over the category's tags) is trained with
binary cross-entropy and early stopping on the validation split; macro ROC-AUC and PR-AUC over tags on the
test split, mean ± std over repeats with seeds seed, seed + 1, ...

Random baseline: the same protocol on standard-normal random track embeddings of the same dimension
(ROC-AUC ~0.5, PR-AUC ~ the tags' mean positive rate).
"""

from __future__ import annotations

import dataclasses
import os
from importlib import resources

import numpy as np

from cmir_tf import errors
from cmir_tf.evaluation import probes
from cmir_tf.evaluation.embeddings import Embedder, embed_listed_files
from cmir_tf.evaluation.metrics import macro_tagging_scores

CATEGORIES = ("genre", "instrument", "moodtheme")
SPLITS = ("train", "validation", "test")
COLUMNS = ("TRACK_ID", "ARTIST_ID", "ALBUM_ID", "PATH", "DURATION", "TAGS")
SEGMENT = "full"


@dataclasses.dataclass(frozen=True)
class JamendoTrack:
    track_id: str  # e.g. "track_0000241"
    path: str  # audio path relative to the audio folder, e.g. "41/241.mp3" (any extension is accepted)
    tags: tuple[str, ...]  # e.g. ("genre---rock", "genre---pop")


def split_file_name(category: str, split: str) -> str:
    if category not in CATEGORIES or split not in SPLITS:
        raise errors.ConfigError(f"unknown category/split {category!r}/{split!r}; expected {CATEGORIES} x {SPLITS}")
    return f"autotagging_{category}-{split}.tsv"


def load_split(category: str, split: str, splits_dir: str | None = None) -> list[JamendoTrack]:
    """Tracks of one split-0 TSV: a header, then tab-separated TRACK_ID ARTIST_ID ALBUM_ID PATH DURATION
    TAG [TAG ...] rows (several tags per row, each a further field).

    Reads the package's copy unless `splits_dir` holds other TSVs of the same names.
    """
    name = split_file_name(category, split)
    if splits_dir:
        with open(os.path.join(splits_dir, name)) as f:
            text = f.read()
    else:
        text = resources.files("cmir_tf").joinpath(f"splits/mtg_jamendo/{name}").read_text()
    lines = text.splitlines()
    if not lines or tuple(lines[0].split("\t")) != COLUMNS:
        raise errors.DatasetError(f"{name}: expected the header {COLUMNS}")
    tracks = []
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) < len(COLUMNS) or not all(fields):
            raise errors.DatasetError(f"{name}:{number}: expected {len(COLUMNS) - 1} fields and at least one tag")
        tracks.append(JamendoTrack(fields[0], fields[3], tuple(fields[5:])))
    return tracks


def resolve_dirs(jamendo_dir: str, splits_dir: str | None) -> tuple[str, str | None]:
    """(audio folder, TSV folder or None = package data) for a dataset folder.

    `jamendo_dir/audio` and `jamendo_dir/split-0` are used when present (the demo corpus's layout);
    otherwise `jamendo_dir` is the audio folder. An explicit `splits_dir` wins.
    """
    audio = os.path.join(jamendo_dir, "audio")
    own_splits = os.path.join(jamendo_dir, "split-0")
    return (audio if os.path.isdir(audio) else jamendo_dir,
            splits_dir or (own_splits if os.path.isdir(own_splits) else None))


def tag_vocabulary(splits: dict[str, list[JamendoTrack]]) -> list[str]:
    """Sorted tags occurring in any split of a category."""
    return sorted({tag for tracks in splits.values() for track in tracks for tag in track.tags})


def multi_hot(tracks: list[JamendoTrack], vocabulary: list[str]) -> np.ndarray:
    """(n_tracks, n_tags) float32 labels."""
    index = {tag: i for i, tag in enumerate(vocabulary)}
    labels = np.zeros((len(tracks), len(vocabulary)), dtype=np.float32)
    for row, track in enumerate(tracks):
        labels[row, [index[tag] for tag in track.tags]] = 1.0
    return labels


def _category_protocol(embeddings: dict[str, np.ndarray], splits: dict[str, list[JamendoTrack]],
                       config: probes.ProbeConfig, repeats: int, seed: int, desc: str) -> dict:
    vocabulary = tag_vocabulary(splits)
    kept = {s: [t for t in tracks if t.path in embeddings] for s, tracks in splits.items()}
    x = {s: np.stack([embeddings[t.path][0] for t in tracks]) for s, tracks in kept.items()}
    y = {s: multi_hot(tracks, vocabulary) for s, tracks in kept.items()}

    probe = probes.Probe(probes.build_tagging_mlp(x["train"], len(vocabulary)), "binary_crossentropy", config)

    def run() -> dict[str, float]:
        probe.fit((x["train"], y["train"]), (x["validation"], y["validation"]))
        scores = macro_tagging_scores(y["test"], probe.predict(x["test"]))
        return {"roc_auc": scores["roc_auc"], "pr_auc": scores["pr_auc"]}

    return probes.repeat(run, repeats, seed, desc)


def evaluate_jamendo(embedder: Embedder, jamendo_dir: str, *, cache_dir: str | None = None,
                     config: probes.ProbeConfig = probes.ProbeConfig(), repeats: int = 10, seed: int = 0,
                     allow_missing: bool = False, baseline: bool = True, splits_dir: str | None = None,
                     categories: tuple[str, ...] = CATEGORIES) -> dict:
    """MTG-Jamendo tagging scores of `embedder` (and of the random baseline) per category.

    Args:
      embedder: chunk embedder (e.g. `SavedModelEmbedder`).
      jamendo_dir: folder the TSVs' PATH column is relative to, or one with `audio/` [and `split-0/`].
      cache_dir, config, repeats, seed, allow_missing, baseline: as in `evaluate_gtzan`.
      splits_dir: folder with other `autotagging_<category>-<split>.tsv` (default: `jamendo_dir/split-0` if
        present, else the package's split 0).
      categories: subset of `CATEGORIES` to evaluate.

    Returns:
      JSON-ready dict: `categories` {category: {roc_auc, pr_auc ({mean, std, values}), n_tags,
      n_tags_scored, n_tracks per split}}, `random_baseline` {category: {roc_auc, pr_auc}}, `skipped`, `dim`.
    """
    audio_dir, splits_dir = resolve_dirs(jamendo_dir, splits_dir)
    splits = {c: {s: load_split(c, s, splits_dir) for s in SPLITS} for c in categories}
    embeddings, skipped = embed_listed_files(
        embedder, audio_dir, [t.path for c in splits.values() for ts in c.values() for t in ts],
        dataset="jamendo", segment=SEGMENT, mean=True, cache_dir=cache_dir, allow_missing=allow_missing,
        what="the MTG-Jamendo split TSVs")
    result: dict = {"task": "jamendo", "categories": {}, "skipped": skipped, "dim": embedder.dim,
                    "embedding": embedder.output, "repeats": repeats}
    for category, category_splits in splits.items():
        scores = _category_protocol(embeddings, category_splits, config, repeats, seed, f"Jamendo {category}")
        test_labels = multi_hot([t for t in category_splits["test"] if t.path in embeddings],
                                tag_vocabulary(category_splits))
        positives = test_labels.sum(axis=0)
        result["categories"][category] = {
            **scores, "n_tags": test_labels.shape[1],
            "n_tags_scored": int(np.sum((positives > 0) & (positives < len(test_labels)))),
            "n_tracks": {s: sum(t.path in embeddings for t in ts) for s, ts in category_splits.items()},
        }
    if baseline:
        rng = np.random.default_rng(seed)
        random = {path: rng.standard_normal(e.shape).astype(np.float32) for path, e in embeddings.items()}
        result["random_baseline"] = {
            c: _category_protocol(random, s, config, repeats, seed, f"Jamendo {c} random baseline")
            for c, s in splits.items()}
    return result
