"""Cold-start playlist continuation: rank never-played songs for a playlist from their audio alone.

The test-set songs have no collaborative-filtering data (prepare fits LightFM on train + validation songs
only), as a new song would. A contrastive variant with a CF encoder maps both sides into its joint space:

- each playlist's LightFM user vector, as LightFM returns it (prepare keeps it: `cf_playlist_vectors.npy`,
  300 factors then the user bias, the 301-d layout of the item vectors the CF encoder was trained on), goes
  through `embed_cf`. LightFM scores song i for playlist u by p_u . q_i + b_u + b_i, so a song that suits the
  playlist has item factors q_i aligned with the user factors p_u: the user vector is the playlist's
  representative point in the item space the CF encoder knows (the bias slot then holds b_u, which does not
  change LightFM's ranking for the playlist);
- each test song's audio goes through the audio encoder: the mean of its chunks' joint-space `embedding`.

A playlist's top 100 test songs are those most cosine-similar to its mapped vector (exact search), scored
against its test-set songs with NDCG@100 and MAP@100, as in `cmir_tf.evaluation.playlist`. Queries are that
protocol's (playlists with test-set songs and other songs) that have a LightFM vector, i.e. at least one train
or validation song. Random baseline: a random ranking on the same queries.

`cold_start_protocol` is that protocol for any playlist-side query vector; the tag-only cold start of
`cmir_tf.evaluation.tags` uses it with the playlist's tags instead of its LightFM vector.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np

from cmir_tf import errors
from cmir_tf.data import melon
from cmir_tf.data.prepared import PreparedFolder
from cmir_tf.evaluation.embeddings import Embedder, offered_outputs
from cmir_tf.evaluation.neighbours import batched_neighbours
from cmir_tf.evaluation.playlist import (K, build_queries, embed_melon_songs, load_test_songs, random_rankings,
                                         rows_of, score, seeded_sample)
from cmir_tf.joint import JointSpace


class PlaylistVectorsMissingError(errors.UsageError, ValueError):
    """The prepared data folder has no LightFM playlist vectors (prepared before prepare kept them)."""


def load_playlist_vectors(data_dir: str) -> dict[int, np.ndarray]:
    """Playlist id -> (301,) LightFM user vector, from a prepared data folder (`PlaylistVectorsMissingError`
    when it has none)."""
    folder = PreparedFolder(data_dir)
    paths = (folder.playlist_vectors_path, folder.playlist_ids_path)
    if not all(os.path.exists(p) for p in paths):
        raise PlaylistVectorsMissingError(
            f"{data_dir} has no {os.path.basename(paths[0])}: it was prepared before prepare kept the LightFM "
            "playlist vectors; prepare the data again into a new folder")
    vectors, ids = np.load(paths[0]), np.load(paths[1])
    return dict(zip(ids.tolist(), vectors))


def cold_start_queries(playlists: list[dict], test_songs: np.ndarray,
                       usable: Callable[[dict], bool]) -> tuple[list[dict], list[np.ndarray], int]:
    """(the playlists, their test-set songs) of the protocol's queries (playlists with test-set and other
    songs) that `usable` accepts (e.g. those with a CF vector), in file order, and how many it refused."""
    queries = build_queries([np.asarray(p["songs"], dtype=np.int64) for p in playlists], test_songs)
    chosen = [q for q, i in enumerate(queries.index.tolist()) if usable(playlists[i])]
    return ([playlists[queries.index[q]] for q in chosen], [queries.truth[q] for q in chosen],
            len(queries.index) - len(chosen))


def cold_start_protocol(embedder: Embedder, melon_dir: str, data_dir: str, usable: Callable[[dict], bool],
                        embed_queries: Callable[[list[dict]], np.ndarray], *, needs: str,
                        cache_dir: str | None = None, seed: int = 0, allow_missing: bool = False,
                        test_songs: np.ndarray | None = None, query_sample: int | None = None) -> dict:
    """Cold-start continuation with playlist-side query vectors of any kind (LightFM vectors, playlist tags).

    Args:
      embedder: a chunk embedder offering the joint-space `embedding` (its `output`, or through `embed_both`);
        the test songs' vectors come from the cache `evaluate_playlists` filled when it can.
      melon_dir, data_dir: the Melon folder and the prepared folder (test split; the playlist files it was
        prepared from give the queries).
      usable: whether a query playlist (a Melon playlist dict) has a query vector; the others are counted.
      embed_queries: the kept playlists -> (Q, 128) their query vectors in the joint space.
      needs: what a usable playlist has, for the error when no query is left ("a LightFM vector").
      test_songs: candidate song ids instead of the prepared test split (evaluate.py `--test_songs`).
      query_sample: a seeded sample of this many usable queries (`playlist.seeded_sample`), a deviation from the
        paper; seed: of the random ranking and the sample; cache_dir, allow_missing: as in `evaluate_playlists`.

    Returns:
      `cold_start_metrics`'s dict, `refused` (queries `usable` refused), `query_sample` {n, of, seed} or None,
      `skipped`.
    """
    if "embedding" not in offered_outputs(embedder):
        raise errors.ConfigError("cold-start needs the joint-space `embedding` output, got " + embedder.output)
    test_songs = load_test_songs(data_dir) if test_songs is None else np.unique(test_songs)
    playlists = melon.read_playlists(melon_dir, PreparedFolder(data_dir).playlist_files())  # as the folder was made
    chosen, truth, refused = cold_start_queries(playlists, test_songs, usable)
    sample = None
    if query_sample and query_sample < len(chosen):
        keep = seeded_sample(len(chosen), query_sample, seed).tolist()
        sample = {"n": query_sample, "of": len(chosen), "seed": seed}
        chosen, truth = [chosen[q] for q in keep], [truth[q] for q in keep]
    audio, skipped = embed_melon_songs(embedder, melon_dir, test_songs, cache_dir=cache_dir, output="embedding",
                                       allow_missing=allow_missing, what="the test split")
    candidates = np.array([s for s in test_songs.tolist() if str(s) in audio], dtype=np.int64)
    truth_rows = rows_of(truth, candidates)
    keep = [i for i, t in enumerate(truth_rows) if len(t)]
    if not keep:
        raise errors.DatasetError(f"no playlist in {melon_dir} has test-set songs, other songs and {needs}")
    result = cold_start_metrics(embed_queries([chosen[i] for i in keep]),
                                np.concatenate([audio[str(s)] for s in candidates.tolist()]),
                                [truth_rows[i] for i in keep], seed)
    return {**result, "refused": refused, "query_sample": sample, "skipped": skipped}


def evaluate_cold_start(space: JointSpace, embedder: Embedder, melon_dir: str, data_dir: str, *,
                        cache_dir: str | None = None, seed: int = 0, allow_missing: bool = False,
                        test_songs: np.ndarray | None = None, query_sample: int | None = None) -> dict:
    """Cold-start continuation scores of a model with an `embed_cf` signature: `cold_start_protocol` with each
    playlist's LightFM vector through `embed_cf`.

    Args:
      space: the model's joint space (needs `embed_cf`, else `MissingSignatureError`).
      embedder, melon_dir, data_dir, cache_dir, seed, allow_missing, test_songs, query_sample: as in
        `cold_start_protocol`; the data folder also gives the playlist vectors.

    Returns:
      `ndcg@100`, `map@100`, `random_baseline` {ndcg@100, map@100}, `n_playlists`, `n_candidates`,
      `playlists_without_cf_vector`, `query_sample` {n, of, seed} or None, `skipped`.
    """
    space.require("embed_cf", "cold-start playlist continuation")
    vectors = load_playlist_vectors(data_dir)
    result = cold_start_protocol(
        embedder, melon_dir, data_dir, lambda playlist: playlist["id"] in vectors,
        lambda playlists: space.embed_cf(np.stack([vectors[p["id"]] for p in playlists])),
        needs="a LightFM vector", cache_dir=cache_dir, seed=seed, allow_missing=allow_missing,
        test_songs=test_songs, query_sample=query_sample)
    result["playlists_without_cf_vector"] = result.pop("refused")
    return result


def cold_start_metrics(playlist_vectors: np.ndarray, candidate_vectors: np.ndarray, truth_rows: list[np.ndarray],
                       seed: int = 0) -> dict:
    """The ranking and scores on vectors already in the joint space.

    Args:
      playlist_vectors: (Q, D) one mapped LightFM vector per playlist; candidate_vectors: (C, D) test songs' audio.
      truth_rows: per playlist, indices of its ground-truth songs into `candidate_vectors` (non-empty).

    Returns:
      `ndcg@100`, `map@100`, `random_baseline` {ndcg@100, map@100}, `n_playlists`, `n_candidates`.
    """
    ranked = np.full((len(playlist_vectors), K), -1, dtype=np.int64)  # -1 padded when C < 100
    k = min(K, len(candidate_vectors))
    ranked[:, :k] = batched_neighbours(playlist_vectors, candidate_vectors, k)[0]
    return {**score(ranked, truth_rows),
            "random_baseline": score(random_rankings(len(candidate_vectors), len(ranked), seed), truth_rows),
            "n_playlists": len(ranked), "n_candidates": len(candidate_vectors)}
