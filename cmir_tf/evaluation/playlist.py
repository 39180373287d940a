"""Melon playlist continuation in the paper's protocol.

Queries are the playlists with at least one test-set song: seeds = their songs outside the test set,
candidates = all test-set songs, ground truth = the playlist's test-set songs. A song's vector is the mean of
its chunk embeddings (the chunks of its `arena_mel` spectrogram). For every seed, the k = 100 nearest
candidates by angular distance are retrieved (Annoy, or by batched products); a playlist's candidates are ranked by how
many of its seeds retrieved them, ties by their summed cosine similarity to those seeds, and the top 100 are
scored against the ground truth with NDCG@100 and MAP@100 (definitions in `cmir_tf.evaluation.metrics`).

Random baseline: for each playlist, 100 candidates drawn uniformly without replacement (a random ranking).
With Annoy (or the bf16 batched search), its recall@100 against float32 exact search is measured on a sample
of seeds.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import numpy as np
from tqdm import tqdm

from cmir_tf import errors
from cmir_tf.data.melon import PLAYLIST_CHOICES
from cmir_tf.data.prepared import PreparedFolder
from cmir_tf.evaluation import neighbours, protocol
from cmir_tf.evaluation.embeddings import (EmbeddingCache, Embedder, compute_outputs, dataset_key, offered_outputs,
                                           track_embedder)
from cmir_tf.evaluation.files import MAX_NAMED, check_missing
from cmir_tf.evaluation.metrics import average_precision_at_k, ndcg_at_k, relevance_matrix
from cmir_tf.export.chunk_batches import TRACK_MEL

K = 100


def load_playlists(melon_dir: str, files: tuple[str, ...] = PLAYLIST_CHOICES["train"]) -> list[np.ndarray]:
    """Song ids (int64 arrays) of every playlist in `files` (the first is required, the others if present)."""
    if not os.path.exists(os.path.join(melon_dir, files[0])):
        raise FileNotFoundError(f"no {files[0]} in {melon_dir}")
    playlists = []
    for name in files:
        path = os.path.join(melon_dir, name)
        if os.path.exists(path):
            with open(path) as f:
                playlists += [np.asarray(p["songs"], dtype=np.int64) for p in json.load(f)]
    return playlists


def load_test_songs(data_dir: str) -> np.ndarray:
    """Sorted unique song ids of the prepared data's test split (`splits.json`)."""
    return np.unique(np.asarray(PreparedFolder(data_dir).split_ids("test"), dtype=np.int64))


def mel_path(melon_dir: str, song_id: int) -> str:
    """Melon's layout: `arena_mel/<song_id // 1000>/<song_id>.npy`, a (48, T) log-mel in dB."""
    return os.path.join(melon_dir, "arena_mel", str(song_id // 1000), f"{song_id}.npy")


@dataclasses.dataclass
class Queries:
    seeds: list[np.ndarray]  # per playlist, seed song ids (sorted, distinct)
    truth: list[np.ndarray]  # per playlist, ground-truth (test-set) song ids (sorted, distinct)
    index: np.ndarray  # (n_queries,) int64 position of each query's playlist in the list given


def _membership(ids: np.ndarray, sorted_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per id, whether it is in `sorted_ids` (sorted, distinct) and its position there (valid where found)."""
    position = np.searchsorted(sorted_ids, ids)
    found = position < len(sorted_ids)
    found[found] = sorted_ids[position[found]] == ids[found]
    return found, position


def _grouped(values: np.ndarray, owner: np.ndarray, owners: np.ndarray) -> list[np.ndarray]:
    """`values` (sorted by `owner`) split into one array per entry of `owners` (ascending, distinct)."""
    counts = np.bincount(owner, minlength=int(owners[-1]) + 1 if len(owners) else 0)[owners]
    return np.split(values, np.cumsum(counts)[:-1]) if len(owners) else []


def build_queries(playlists: list[np.ndarray], test_songs: np.ndarray) -> Queries:
    """Playlists with at least one test-set song and at least one other song, split into seeds and truth.

    Vectorised over all playlists at once (one sort of every (playlist, song) pair, one `searchsorted` against
    the test songs): about a second for Melon's 115k playlists and 5.2M entries.
    """
    lengths = np.array([len(p) for p in playlists], dtype=np.int64)
    owner = np.repeat(np.arange(len(playlists)), lengths)
    songs = np.concatenate(playlists).astype(np.int64) if len(playlists) else np.zeros(0, np.int64)
    order = np.lexsort((songs, owner))
    owner, songs = owner[order], songs[order]
    distinct = np.ones(len(songs), dtype=bool)
    distinct[1:] = (owner[1:] != owner[:-1]) | (songs[1:] != songs[:-1])
    owner, songs = owner[distinct], songs[distinct]
    in_test, _ = _membership(songs, np.unique(test_songs))
    n_test = np.bincount(owner, weights=in_test, minlength=len(playlists))
    n_songs = np.bincount(owner, minlength=len(playlists))
    index = np.flatnonzero((n_test > 0) & (n_test < n_songs))
    chosen = np.zeros(len(playlists), dtype=bool)
    chosen[index] = True
    seed, truth = chosen[owner] & ~in_test, chosen[owner] & in_test
    return Queries(_grouped(songs[seed], owner[seed], index), _grouped(songs[truth], owner[truth], index), index)


def seeded_sample(n_items: int, n: int, seed: int) -> np.ndarray:
    """Ascending positions of a seeded uniform sample of `n` of `n_items` items (all of them when n >= n_items)."""
    if n >= n_items:
        return np.arange(n_items)
    return np.sort(np.random.default_rng(seed).choice(n_items, size=n, replace=False))


def sample_queries(queries: Queries, n: int, seed: int) -> Queries:
    """A seeded uniform sample of `n` queries (`seeded_sample`), in their original order."""
    keep = seeded_sample(len(queries.index), n, seed).tolist()
    return Queries([queries.seeds[i] for i in keep], [queries.truth[i] for i in keep], queries.index[keep])


def rows_of(groups: list[np.ndarray], ids: np.ndarray) -> list[np.ndarray]:
    """Per group of song ids, the rows of those found in `ids` (sorted, distinct), int64; others dropped."""
    if not groups:
        return []
    lengths = np.array([len(g) for g in groups])
    owner = np.repeat(np.arange(len(groups)), lengths)
    found, position = _membership(np.concatenate(groups).astype(np.int64), ids)
    return _grouped(position[found].astype(np.int64), owner[found], np.arange(len(groups)))


def rank_candidates(hits: np.ndarray, similarities: np.ndarray, seed_rows: list[np.ndarray],
                    k: int = K) -> np.ndarray:
    """Per playlist, the top-k candidates by retrieval count, ties by summed similarity.

    Args:
      hits: (S, k') candidate indices retrieved for each seed vector (-1 = none); similarities: (S, k').
      seed_rows: per playlist, its seeds' rows in `hits`.

    Returns:
      (n_playlists, k) int64 candidate indices, best first, padded with -1.
    """
    ranked = np.full((len(seed_rows), k), -1, dtype=np.int64)
    for q, rows in enumerate(tqdm(seed_rows, desc="ranking", unit="playlist", leave=False)):
        best = rank_by_votes(hits[rows], similarities[rows], k)
        ranked[q, :len(best)] = best
    return ranked


def rank_by_votes(hits: np.ndarray, similarities: np.ndarray, k: int = K) -> np.ndarray:
    """One playlist's continuation: of the candidates its seeds retrieved, the `k` most often retrieved, ties by
    summed similarity to those seeds.

    Args:
      hits: (S, k') candidate indices retrieved by each of the playlist's S seeds (-1 = none);
        similarities: (S, k') their similarities.

    Returns:
      (<= k,) int64 candidate indices, best first.
    """
    found, sims = hits.ravel(), similarities.ravel()
    keep = found >= 0
    candidates, inverse, counts = np.unique(found[keep], return_inverse=True, return_counts=True)
    summed = np.bincount(inverse, weights=sims[keep], minlength=len(candidates))
    return candidates[np.lexsort((-summed, -counts))[:k]].astype(np.int64)


def random_rankings(n_candidates: int, n_playlists: int, seed: int, k: int = K) -> np.ndarray:
    """(n_playlists, k) candidate indices drawn uniformly without replacement per playlist (-1 padded)."""
    rng = np.random.default_rng(seed)
    ranked = np.full((n_playlists, k), -1, dtype=np.int64)
    for q in range(n_playlists):
        ranked[q, :min(k, n_candidates)] = rng.choice(n_candidates, size=min(k, n_candidates), replace=False)
    return ranked


def score(ranked: np.ndarray, truth_rows: list[np.ndarray]) -> dict[str, float]:
    """Mean NDCG@k and MAP@k of (n_playlists, k) rankings against per-playlist ground-truth indices."""
    relevance = relevance_matrix(ranked, [set(t.tolist()) for t in truth_rows])
    n_relevant = np.array([len(t) for t in truth_rows])
    k = ranked.shape[1]
    return {f"ndcg@{k}": float(ndcg_at_k(relevance, n_relevant).mean()),
            f"map@{k}": float(average_precision_at_k(relevance, n_relevant).mean())}


def continuation_metrics(seed_vectors: np.ndarray, candidate_vectors: np.ndarray, seed_rows: list[np.ndarray],
                         truth_rows: list[np.ndarray], *, exact: bool = False, n_trees: int = 50,
                         search_k: int = 2000, recall_sample: int = 1000, seed: int = 0,
                         precision: str = "auto") -> dict:
    """The protocol on vectors: metrics, random baseline, the search's recall and timings.

    Args:
      seed_vectors: (S, D) one row per distinct seed song; candidate_vectors: (C, D).
      seed_rows: per playlist, indices into `seed_vectors`; truth_rows: per playlist, indices of its
        ground-truth songs into `candidate_vectors` (non-empty).
      exact: the batched search (`neighbours.batched_neighbours` in `precision`, see SEARCH_PRECISIONS)
        instead of Annoy (`n_trees` trees, `search_k` nodes per query).
      recall_sample: seeds on which the search's recall@k against float32 exact search is measured (0: skip;
        not measured when the search is float32 exact).

    Returns:
      `ndcg@100`, `map@100`, `random_baseline` {ndcg@100, map@100}, `search_recall@100` (None when not
      measured), `search` ("exact", "exact-bf16-shortlist" or "annoy(...)"), `n_playlists`, `n_candidates`,
      `n_seed_songs`, `seconds` per stage.
    """
    k = min(K, len(candidate_vectors))
    seconds = {}
    start = time.perf_counter()
    recall = None
    if exact:
        precision = neighbours.resolve_search_precision(precision)
        hits, sims = neighbours.batched_neighbours(seed_vectors, candidate_vectors, k, precision=precision)
        seconds["search"] = time.perf_counter() - start
        search = "exact" if precision == "float32" else "exact-bf16-shortlist"
    else:
        index = neighbours.build_annoy_index(candidate_vectors, n_trees, seed)
        seconds["annoy_build"] = time.perf_counter() - start
        start = time.perf_counter()
        hits, sims = neighbours.annoy_neighbours(index, seed_vectors, k, search_k)
        seconds["search"] = time.perf_counter() - start
        search = f"annoy(n_trees={n_trees}, search_k={search_k})"
    if recall_sample and search != "exact":
        sample = np.random.default_rng(seed).permutation(len(seed_vectors))[:recall_sample]
        exact_hits, _ = neighbours.batched_neighbours(seed_vectors[sample], candidate_vectors, k)
        recall = neighbours.recall_at_k(hits[sample], exact_hits)
    start = time.perf_counter()
    ranked = rank_candidates(hits, sims, seed_rows)
    seconds["ranking"] = time.perf_counter() - start
    start = time.perf_counter()
    metrics = score(ranked, truth_rows)
    baseline = score(random_rankings(len(candidate_vectors), len(seed_rows), seed), truth_rows)
    seconds["scoring"] = time.perf_counter() - start
    return {**metrics, "random_baseline": baseline, f"search_recall@{K}": recall, "search": search,
            "n_playlists": len(seed_rows), "n_candidates": len(candidate_vectors),
            "n_seed_songs": len(seed_vectors), "seconds": seconds}


def evaluate_playlists(embedder: Embedder, melon_dir: str, data_dir: str, *, cache_dir: str | None = None,
                       exact: bool = False, n_trees: int = 50, search_k: int = 2000, recall_sample: int = 1000,
                       seed: int = 0, allow_missing: bool = False, test_songs: np.ndarray | None = None,
                       query_sample: int | None = None, precision: str = "auto") -> dict:
    """Playlist continuation scores of `embedder` on a Melon-format folder.

    Args:
      embedder: chunk embedder (e.g. `SavedModelEmbedder`). One that also offers the joint-space `embedding`
        (`embed_both`) caches it for the test songs in the same pass, for cold start and zero-shot.
      melon_dir: folder with `train.json` [`val.json`, `test.json`] and `arena_mel/`.
      data_dir: prepared data folder: the playlist files it was prepared from are used (`train.json` by
        default, the paper's protocol) and its `splits.json` test split gives the candidates.
      test_songs: candidate song ids to use instead of that test split (evaluate.py `--test_songs`).
      query_sample: evaluate a seeded sample of this many query playlists (`sample_queries`; all test songs
        stay candidates, only the sampled playlists' seeds are embedded): a deviation from the paper, for
        machines without a GPU, recorded as `query_sample` in the result.
      allow_missing: skip songs whose spectrogram is missing or unreadable (counted; playlists left without
        seeds or ground truth are dropped) instead of raising.
      exact, n_trees, search_k, recall_sample, seed, precision: as in `continuation_metrics`.

    Returns:
      `continuation_metrics`'s dict plus `skipped` {missing, undecodable, first_skipped}, `dim`, `seconds`
      of `queries` and `embedding`, and `query_sample` {n, of, seed} (None without sampling).
    """
    start = time.perf_counter()
    test_songs = load_test_songs(data_dir) if test_songs is None else np.unique(test_songs)
    files = protocol.playlist_files(data_dir)
    queries = build_queries(load_playlists(melon_dir, files), test_songs)
    if not queries.seeds:
        raise errors.DatasetError(f"no playlist in {melon_dir} has both test-set and other songs")
    n_queries = len(queries.seeds)
    if query_sample:
        queries = sample_queries(queries, query_sample, seed)
    seconds = {"queries": time.perf_counter() - start}
    start = time.perf_counter()
    seed_songs = np.unique(np.concatenate(queries.seeds))
    vectors, skipped = embed_melon_songs(embedder, melon_dir, np.union1d(test_songs, seed_songs),
                                         cache_dir=cache_dir, allow_missing=allow_missing, joint_too=True,
                                         what="the Melon playlists and test split")
    seconds["embedding"] = time.perf_counter() - start
    candidates = np.array([s for s in test_songs.tolist() if str(s) in vectors], dtype=np.int64)
    seed_songs = np.array([s for s in seed_songs.tolist() if str(s) in vectors], dtype=np.int64)
    seed_rows, truth_rows = rows_of(queries.seeds, seed_songs), rows_of(queries.truth, candidates)
    kept = [q for q, (s, t) in enumerate(zip(seed_rows, truth_rows)) if len(s) and len(t)]
    result = continuation_metrics(
        np.concatenate([vectors[str(s)] for s in seed_songs.tolist()]),
        np.concatenate([vectors[str(s)] for s in candidates.tolist()]),
        [seed_rows[q] for q in kept], [truth_rows[q] for q in kept], exact=exact, n_trees=n_trees,
        search_k=search_k, recall_sample=recall_sample, seed=seed, precision=precision)
    result["seconds"] = {**seconds, **result["seconds"]}
    sample = {"n": len(queries.seeds), "of": n_queries, "seed": seed} if len(queries.seeds) < n_queries else None
    result.update(task="playlist", dim=embedder.dim, embedding=embedder.output, playlists=list(files),
                  query_sample=sample, skipped={**skipped,
                                                "playlists_dropped": len(queries.seeds) - len(kept)})
    return result


def embed_melon_songs(embedder: Embedder, melon_dir: str, song_ids: np.ndarray, *, cache_dir: str | None,
                      allow_missing: bool, what: str, output: str | None = None,
                      joint_too: bool = False) -> tuple[dict[str, np.ndarray], dict]:
    """Mean chunk embedding (1, D) of each song's `arena_mel` spectrogram, keyed by `str(song_id)`.

    `output` (default `embedder.output`) must be one the embedder offers. With `joint_too`, an embedder that
    also offers the joint-space `embedding` (`embed_both`) computes and caches it in the same model calls, so
    cold start and zero-shot find it in the cache. Missing or unreadable spectrograms (and those holding
    infinities or NaNs) raise, naming the first ones (`what` says who listed them), unless `allow_missing`,
    which skips and counts them: `{"missing", "undecodable", "first_skipped"}`.
    """
    output = output or embedder.output
    outputs = (output,) + (("embedding",) if joint_too and output != "embedding" else ())
    outputs = tuple(o for o in outputs if o in offered_outputs(embedder))
    if output not in outputs:
        raise errors.ConfigError(f"the embedder offers no {output!r} output (it has {offered_outputs(embedder)})")
    missing = [str(s) for s in song_ids if not os.path.isfile(mel_path(melon_dir, int(s)))]
    check_missing([mel_path(melon_dir, int(s)) for s in missing], len(song_ids), what, allow_missing)

    def load(key: str) -> np.ndarray:
        mel = np.load(mel_path(melon_dir, int(key)))
        if mel.ndim != 2 or mel.shape[0] != 48 or mel.shape[1] == 0:
            raise errors.DatasetError(f"expected a (48, T >= 1) spectrogram, got {mel.shape}")
        if not np.isfinite(mel).all():  # about 0.3 % of Melon's files hold -inf (20 log10 of 0)
            raise errors.DatasetError("the spectrogram holds infinities or NaNs")
        return mel.T.astype(np.float32)

    dataset = dataset_key("melon-mean", melon_dir)
    caches = {o: EmbeddingCache(cache_dir, embedder, dataset, output=o) for o in outputs}
    missing_set = set(missing)
    vectors, failed = compute_outputs(caches, [str(s) for s in song_ids if str(s) not in missing_set],
                                      track_embedder(embedder, load, TRACK_MEL, outputs, mean=True),
                                      skip_errors=allow_missing, desc="embedding Melon songs")
    skipped = missing + list(failed)
    return vectors[output], {"missing": len(missing), "undecodable": len(failed),
                             "first_skipped": skipped[:MAX_NAMED]}
