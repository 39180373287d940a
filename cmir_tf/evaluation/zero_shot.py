"""Zero-shot genre evaluation: genre scores straight from the joint space, with no probe trained.

A track's score for a genre code is the cosine similarity between its audio embedding (the mean of its
chunks' joint-space `embedding`) and the code's `embed_genres` embedding (`cmir_tf.joint.JointSpace`).

- Melon: the test split's songs (`arena_mel` spectrograms) against their genre codes (read from
  `song_meta.json` at the prepared data's `--genre_level`), macro ROC-AUC / PR-AUC over the codes that have
  positive and negative test songs. Random baseline: standard-normal scores.
- GTZAN: each test track (fault-filtered split, centred 29.1 s) gets the GTZAN genre whose Melon codes
  (package data `splits/gtzan_melon/gtzan_to_melon.json`, documented there) score highest, a genre's score
  being the best of its codes'. GTZAN genres that share their codes (metal, rock) form one class; genres
  with no code in the model's vocabulary are left out with their tracks. Accuracy over the tracks left, next
  to chance (1 / classes). Nothing is trained on GTZAN.
"""

from __future__ import annotations

import json
import os
from importlib import resources

import numpy as np

from cmir_tf import errors
from cmir_tf.data import melon
from cmir_tf.data.prepared import PreparedFolder
from cmir_tf.evaluation import gtzan
from cmir_tf.evaluation.embeddings import Embedder, embed_listed_files
from cmir_tf.evaluation.metrics import tagging_against_random
from cmir_tf.evaluation.playlist import embed_melon_songs, load_test_songs
from cmir_tf.joint import JointSpace

GTZAN_MAP = "splits/gtzan_melon/gtzan_to_melon.json"


def load_gtzan_map(path: str | None = None) -> dict[str, list[str]]:
    """GTZAN genre -> Melon genre codes: the package's map, or the `map` object of the JSON at `path`."""
    if path:
        with open(path) as f:
            text = f.read()
    else:
        text = resources.files("cmir_tf").joinpath(GTZAN_MAP).read_text()
    mapping = json.loads(text)["map"]
    unknown = set(mapping) - set(gtzan.GENRES)
    if unknown:
        raise errors.DatasetError(f"the GTZAN -> Melon map names genres that GTZAN lacks: {sorted(unknown)}")
    return mapping


def zero_shot_classes(mapping: dict[str, list[str]], vocabulary: tuple[str, ...]) -> dict[tuple[str, ...], list[str]]:
    """Codes in the vocabulary -> the GTZAN genres mapped to exactly those codes (one class), in GTZAN order."""
    classes: dict[tuple[str, ...], list[str]] = {}
    for genre in gtzan.GENRES:
        codes = tuple(sorted(c for c in mapping.get(genre, ()) if c in vocabulary))
        if codes:
            classes.setdefault(codes, []).append(genre)
    return classes


def _check_embedder(embedder: Embedder) -> None:
    if embedder.output != "embedding":
        raise errors.ConfigError(f"zero-shot needs the joint-space `embedding` output, got {embedder.output!r}")


def evaluate_gtzan_zero_shot(space: JointSpace, embedder: Embedder, gtzan_dir: str, *, cache_dir: str | None = None,
                             allow_missing: bool = False, splits_dir: str | None = None,
                             map_path: str | None = None) -> dict:
    """Zero-shot GTZAN accuracy on the test split (see the module docstring).

    Returns:
      `accuracy`, `chance`, `classes` (names like "metal/rock"), `left_out` (genres without a vocabulary code),
      `n_tracks`, `skipped`; or `{"skipped_reason": ...}` when fewer than two classes remain.
    """
    _check_embedder(embedder)
    space.require("embed_genres", "zero-shot GTZAN")
    vocabulary = space.vocabulary.codes
    classes = zero_shot_classes(load_gtzan_map(map_path), vocabulary)
    left_out = [g for g in gtzan.GENRES if not any(g in genres for genres in classes.values())]
    if len(classes) < 2:
        return {"skipped_reason": f"only {len(classes)} GTZAN class(es) have a Melon code in the model's "
                                  f"vocabulary; left out: {', '.join(left_out)}"}
    class_of = {genre: k for k, genres in enumerate(classes.values()) for genre in genres}
    paths = [p for p in gtzan.load_split("test", splits_dir) if gtzan.GENRES[gtzan.genre_of(p)] in class_of]
    embeddings, skipped = embed_listed_files(
        embedder, gtzan.audio_root(gtzan_dir), paths, dataset="gtzan", segment=gtzan.SEGMENT, mean=True,
        cache_dir=cache_dir, allow_missing=allow_missing, what="the GTZAN test split")
    paths = [p for p in paths if p in embeddings]
    scores = space.genre_scores(np.concatenate([embeddings[p] for p in paths]))  # (tracks, V)
    column = {code: j for j, code in enumerate(vocabulary)}
    class_scores = np.stack([scores[:, [column[c] for c in codes]].max(axis=1) for codes in classes], axis=1)
    truth = np.array([class_of[gtzan.GENRES[gtzan.genre_of(p)]] for p in paths])
    return {"accuracy": float(np.mean(class_scores.argmax(axis=1) == truth)), "chance": 1.0 / len(classes),
            "classes": ["/".join(genres) for genres in classes.values()], "left_out": left_out,
            "n_tracks": len(paths), "skipped": skipped}


def song_codes(melon_dir: str, data_dir: str, song_ids: list[int]) -> dict[int, list[str]]:
    """Genre codes of `song_ids` from `song_meta.json`, at the `genre_level` the data was prepared with."""
    level = PreparedFolder(data_dir).genre_level()
    wanted = set(song_ids)
    return {song["id"]: melon.song_genres(song, level)
            for song in melon.load_json(os.path.join(melon_dir, "song_meta.json")) if song["id"] in wanted}


def evaluate_melon_zero_shot(space: JointSpace, embedder: Embedder, melon_dir: str, data_dir: str, *,
                             cache_dir: str | None = None, allow_missing: bool = False, seed: int = 0,
                             test_songs: np.ndarray | None = None) -> dict:
    """Zero-shot genre tagging of the Melon test split (or of `test_songs`, evaluate.py `--test_songs`):
    macro ROC-AUC / PR-AUC over the vocabulary's codes. The audio vectors are the cached joint-space
    `embedding` `evaluate_playlists` kept when it ran first.

    Returns:
      `roc_auc`, `pr_auc`, `n_tags_scored`, `n_songs`, `random_baseline` {roc_auc, pr_auc}, `skipped`.
    """
    _check_embedder(embedder)
    space.require("embed_genres", "zero-shot Melon genre tagging")
    test_songs = load_test_songs(data_dir) if test_songs is None else np.unique(test_songs)
    audio, skipped = embed_melon_songs(embedder, melon_dir, test_songs, cache_dir=cache_dir,
                                       allow_missing=allow_missing, what="the test split")
    songs = [s for s in test_songs.tolist() if str(s) in audio]
    codes = song_codes(melon_dir, data_dir, songs)
    column = {code: j for j, code in enumerate(space.vocabulary.codes)}
    labels = np.zeros((len(songs), len(column)), dtype=np.int64)
    for i, song in enumerate(songs):
        labels[i, [column[c] for c in codes.get(song, ()) if c in column]] = 1
    scores = space.genre_scores(np.concatenate([audio[str(s)] for s in songs]))
    return {**tagging_against_random(labels, scores, seed), "n_songs": len(songs), "skipped": skipped}
