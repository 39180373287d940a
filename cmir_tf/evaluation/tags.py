"""The playlist-tag evaluations of the tag variants (`contr_t`, `contr_cf_g_t`): no probe, the joint space only.

- Zero-shot tag retrieval (Table 5): the Melon test songs that have a tag bag (`PreparedFolder.song_tags`,
  the at most 10 tf-idf-best tags of the training playlists holding the song) against every tag of the model's
  vocabulary. A song's score for a tag is the cosine between its audio embedding (the mean of its chunks'
  joint-space `embedding`, the one `evaluate_playlists` cached) and the tag's `embed_tags` embedding
  (`JointSpace.tag_scores`); a song is positive for the tags of its bag, negative for the others. Macro
  ROC-AUC / PR-AUC over the tags with at least `MIN_TAG_POSITIVES` positive test songs (fewer make a tag's AUC
  mostly noise). Random baseline: standard-normal scores.
- Tag-only cold-start continuation (columns of Table 3, beside the LightFM-vector cold start): the cold-start
  protocol (`cold_start.cold_start_protocol`: the same queries, candidates, ranking and scores) with a
  playlist's query vector the mean of its tags' unit embeddings (`JointSpace.tags_vector`; its tags as
  `playlist_tags.tags_of` normalises them, those outside the model's vocabulary dropped). Playlists with no
  tag in the vocabulary are left out and counted. Random baseline: a random ranking of the same queries.
"""

from __future__ import annotations

import os

import numpy as np

from cmir_tf import errors
from cmir_tf.data import playlist_tags
from cmir_tf.data.prepared import PreparedFolder
from cmir_tf.evaluation.cold_start import cold_start_protocol
from cmir_tf.evaluation.embeddings import Embedder
from cmir_tf.evaluation.metrics import tagging_against_random
from cmir_tf.evaluation.playlist import embed_melon_songs, load_test_songs
from cmir_tf.joint import JointSpace

MIN_TAG_POSITIVES = 10  # positive test songs a tag needs to be scored in Table 5


class TagsMissingError(errors.UsageError, ValueError):
    """The prepared data folder has no playlist tags (prepared before tags, or no tag used often enough)."""


def load_song_tags(data_dir: str) -> dict[int, list[str]]:
    """{song id: its tag bag as tag strings, best first} of every prepared song with one (`TagsMissingError`
    when the folder has no tags)."""
    folder = PreparedFolder(data_dir)
    if not folder.has_tags() or not os.path.exists(folder.song_tags_path):
        raise TagsMissingError(
            f"{data_dir} has no playlist tags ({os.path.basename(folder.song_tags_path)} and a non-empty "
            f"{os.path.basename(folder.tag_vocab_path)}): it was prepared before playlist tags, or its playlists "
            "carry no tag used often enough; prepare the data again into a new folder")
    tag_of = {i: tag for tag, i in folder.tag_vocab().items()}
    return {song: [tag_of[i] for i in ids] for song, ids in folder.song_tags().items()}


def tag_labels(bags: dict[int, list[str]], songs: list[int], vocabulary: tuple[str, ...]) -> np.ndarray:
    """(len(songs), V) int64: 1 where song i's bag holds vocabulary tag j (bag tags outside it ignored)."""
    column = {tag: j for j, tag in enumerate(vocabulary)}
    labels = np.zeros((len(songs), len(vocabulary)), dtype=np.int64)
    for i, song in enumerate(songs):
        labels[i, [column[t] for t in bags.get(song, ()) if t in column]] = 1
    return labels


def tag_retrieval_metrics(labels: np.ndarray, scores: np.ndarray, seed: int = 0,
                          min_positives: int = MIN_TAG_POSITIVES) -> dict:
    """Macro ROC-AUC / PR-AUC of (N, V) `scores` against (N, V) 0/1 `labels` over the tags with at least
    `min_positives` positives (and a negative), next to standard-normal scores drawn with `seed`.

    Returns:
      `roc_auc`, `pr_auc`, `n_tags_scored`, `random_baseline` {roc_auc, pr_auc}, `min_positives`.
    """
    frequent = np.asarray(labels).sum(axis=0) >= min_positives
    if not frequent.any():
        raise errors.DatasetError(f"no playlist tag has {min_positives} positive test songs: too few tagged test songs "
                         f"({len(labels)}) to score tag retrieval")
    return {**tagging_against_random(labels[:, frequent], scores[:, frequent], seed), "min_positives": min_positives}


def evaluate_tag_retrieval(space: JointSpace, embedder: Embedder, melon_dir: str, data_dir: str, *,
                           cache_dir: str | None = None, allow_missing: bool = False, seed: int = 0,
                           test_songs: np.ndarray | None = None) -> dict:
    """Table 5 (module docstring) on the Melon test split, or on `test_songs` (evaluate.py `--test_songs`).

    Args:
      space: the model's joint space (needs `embed_tags`, else `MissingSignatureError`).
      embedder: the same model's chunk embedder offering the joint-space `embedding` (its `output`, or through
        `embed_both`); data_dir: the prepared folder with the tag bags (`TagsMissingError` without them).
      cache_dir, allow_missing, seed: as in `evaluate_melon_zero_shot`.

    Returns:
      `tag_retrieval_metrics`'s dict, `n_songs` (tagged test songs scored), `n_songs_without_tags` (test songs
      with no bag, left out), `skipped`.
    """
    space.require("embed_tags", "zero-shot playlist-tag retrieval")
    bags = load_song_tags(data_dir)
    test_songs = load_test_songs(data_dir) if test_songs is None else np.unique(test_songs)
    tagged = np.array([s for s in test_songs.tolist() if s in bags], dtype=np.int64)
    audio, skipped = embed_melon_songs(embedder, melon_dir, tagged, cache_dir=cache_dir, output="embedding",
                                       allow_missing=allow_missing, what="the tagged test songs")
    songs = [s for s in tagged.tolist() if str(s) in audio]
    scores = space.tag_scores(np.concatenate([audio[str(s)] for s in songs]))
    result = tag_retrieval_metrics(tag_labels(bags, songs, space.tag_vocabulary), scores, seed)
    return {**result, "n_songs": len(songs), "n_songs_without_tags": len(test_songs) - len(tagged),
            "skipped": skipped}


def evaluate_tag_cold_start(space: JointSpace, embedder: Embedder, melon_dir: str, data_dir: str, *,
                            cache_dir: str | None = None, seed: int = 0, allow_missing: bool = False,
                            test_songs: np.ndarray | None = None, query_sample: int | None = None) -> dict:
    """Tag-only cold-start continuation (module docstring) of a model with an `embed_tags` signature.

    Args: as `cold_start.evaluate_cold_start`'s (the playlists' tags are read from the Melon playlist files, so
    the data folder needs no tags).

    Returns:
      `ndcg@100`, `map@100`, `random_baseline` {ndcg@100, map@100}, `n_playlists`, `n_candidates`,
      `playlists_without_known_tags`, `query_sample` {n, of, seed} or None, `skipped`.
    """
    space.require("embed_tags", "tag-only cold-start continuation")
    vocabulary = space.tag_rows

    def known_tags(playlist: dict) -> list[str]:
        return [tag for tag in playlist_tags.tags_of(playlist) if tag in vocabulary]

    result = cold_start_protocol(
        embedder, melon_dir, data_dir, lambda playlist: bool(known_tags(playlist)),
        lambda playlists: np.stack([space.tags_vector(known_tags(p)) for p in playlists]),
        needs="a tag in the model's vocabulary", cache_dir=cache_dir, seed=seed, allow_missing=allow_missing,
        test_songs=test_songs, query_sample=query_sample)
    result["playlists_without_known_tags"] = result.pop("refused")
    return result
