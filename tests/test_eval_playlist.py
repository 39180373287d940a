"""Playlist continuation: queries, neighbour search, ranking, and the protocol on a tiny Melon folder."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from cmir_tf.evaluation import neighbours, playlist
from cmir_tf.evaluation.files import MissingFilesError


def test_build_queries_splits_seeds_and_truth():
    playlists = [np.array([1, 2, 10]), np.array([3, 4]), np.array([10, 11]), np.array([5, 11, 11, 6])]
    queries = playlist.build_queries(playlists, np.array([10, 11]))
    # [3, 4] has no test song, [10, 11] has no seed: both are not queries.
    assert [q.tolist() for q in queries.seeds] == [[1, 2], [5, 6]]
    assert [t.tolist() for t in queries.truth] == [[10], [11]]


def test_rank_candidates_by_count_then_summed_similarity():
    hits = np.array([[7, 3, 5], [3, 7, -1], [5, 9, 3]])
    sims = np.array([[0.9, 0.8, 0.1], [0.5, 0.2, -np.inf], [0.9, 0.85, 0.1]], dtype=np.float32)
    ranked = playlist.rank_candidates(hits, sims, [np.array([0, 1]), np.array([0, 1, 2]), np.array([2])], k=4)
    # Playlist 0: 7 (2 hits, 1.1) and 3 (2 hits, 1.3) beat 5 (1 hit); 3 wins the tie on summed similarity.
    # Playlist 1: 3 (3 hits), then 7 (2 hits, 1.1) before 5 (2 hits, 1.0), then 9 (1 hit).
    np.testing.assert_array_equal(ranked, [[3, 7, 5, -1], [3, 7, 5, 9], [5, 9, 3, -1]])


def test_batched_neighbours_match_brute_force_and_annoy_recall():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((20, 16))
    candidates = (centres[rng.integers(20, size=2000)] + 0.3 * rng.standard_normal((2000, 16))).astype(np.float32)
    queries = (centres[rng.integers(20, size=300)] + 0.3 * rng.standard_normal((300, 16))).astype(np.float32)
    idx, sims = neighbours.batched_neighbours(queries, candidates, k=10, batch_size=64)
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    brute = unit(queries) @ unit(candidates).T
    np.testing.assert_array_equal(idx, np.argsort(-brute, axis=1, kind="stable")[:, :10])
    np.testing.assert_allclose(sims, np.take_along_axis(brute, idx, axis=1), atol=1e-5)
    # bf16 shortlist (k + 32), rescored in float32: float32 similarities, the true neighbours (CPU-independent:
    # emulated where the CPU has no native bf16).
    bf_idx, bf_sims = neighbours.batched_neighbours(queries, candidates, k=10, batch_size=64, precision="bfloat16")
    assert neighbours.recall_at_k(bf_idx, idx) > 0.99
    np.testing.assert_allclose(bf_sims, np.take_along_axis(brute, bf_idx, axis=1), atol=1e-5)
    assert np.all(np.diff(bf_sims, axis=1) <= 1e-6)  # nearest first
    index = neighbours.build_annoy_index(candidates, n_trees=20)
    a_idx, a_sims = neighbours.annoy_neighbours(index, queries, k=10)
    assert neighbours.recall_at_k(a_idx, idx) > 0.9
    hit = a_idx == idx
    np.testing.assert_allclose(a_sims[hit], sims[hit], atol=1e-4)  # Annoy distances converted to cosine
    assert neighbours.recall_at_k(np.array([[1, 2, -1]]), np.array([[2, 3, 1]])) == pytest.approx(2 / 3)


@pytest.mark.parametrize("columns, k", [(1000, 10), (37, 37), (40, 5), (5000, 132)])
def test_block_top_k_equals_top_k(columns, k):
    scores = np.random.default_rng(columns).standard_normal((7, columns)).astype(np.float32)
    values, indices = neighbours._block_top_k(tf.constant(scores), tf.constant(k))
    expected = tf.math.top_k(scores, k=k)
    np.testing.assert_array_equal(values.numpy(), expected.values.numpy())
    np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())  # no ties in random float32


def test_search_precision_auto_is_bf16_only_on_native_bf16_cpus(monkeypatch):
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert neighbours.resolve_search_precision("auto", {"avx2", "fma"}) == "float32"
    assert neighbours.resolve_search_precision("auto", {"avx512f", "avx512_bf16"}) == "bfloat16"
    assert neighbours.resolve_search_precision("auto", {"avx512f", "amx_bf16"}) == "bfloat16"
    assert neighbours.resolve_search_precision("float32", {"amx_bf16"}) == "float32"
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # oneDNN capped below its bf16 kernels: emulated
    assert neighbours.resolve_search_precision("auto", {"avx512f", "avx512_bf16"}) == "float32"
    with pytest.raises(ValueError, match="search precision"):
        neighbours.resolve_search_precision("float16")


def test_continuation_metrics_beat_random_on_clustered_playlists():
    rng = np.random.default_rng(1)
    n_songs, n_clusters = 3000, 30
    cluster = rng.integers(n_clusters, size=n_songs)
    vectors = (np.eye(n_clusters)[cluster] * 3 + rng.standard_normal((n_songs, n_clusters))).astype(np.float32)
    is_test = rng.random(n_songs) < 0.2
    candidates, seeds = np.flatnonzero(is_test), np.flatnonzero(~is_test)
    cand_row, seed_row = {s: i for i, s in enumerate(candidates)}, {s: i for i, s in enumerate(seeds)}
    seed_rows, truth_rows = [], []
    for c in range(200):
        songs = rng.choice(np.flatnonzero(cluster == c % n_clusters), size=20, replace=False)
        if is_test[songs].any() and not is_test[songs].all():
            seed_rows.append(np.array([seed_row[s] for s in songs if not is_test[s]]))
            truth_rows.append(np.array([cand_row[s] for s in songs if is_test[s]]))
    kwargs = dict(seed_rows=seed_rows, truth_rows=truth_rows, recall_sample=100)
    exact = playlist.continuation_metrics(vectors[seeds], vectors[candidates], exact=True, precision="float32",
                                          **kwargs)
    bf16 = playlist.continuation_metrics(vectors[seeds], vectors[candidates], exact=True, precision="bfloat16",
                                         **kwargs)
    approx = playlist.continuation_metrics(vectors[seeds], vectors[candidates], n_trees=10, **kwargs)
    assert (exact["search"], bf16["search"]) == ("exact", "exact-bf16-shortlist")
    assert exact["search_recall@100"] is None and approx["search_recall@100"] > 0.5
    assert bf16["search_recall@100"] > 0.99
    for result in (exact, bf16, approx):
        assert result["ndcg@100"] > 5 * result["random_baseline"]["ndcg@100"]
        assert result["map@100"] > 5 * result["random_baseline"]["map@100"]
    assert exact["n_candidates"] == len(candidates) and exact["n_playlists"] == len(seed_rows)


class MeanMelEmbedder:
    """Stand-in embedder: one row per 256-frame chunk, the chunk's mean log-mel (48-d)."""

    model_key, output, dim = "mean-mel", "embedding", 48
    chunks_seen = 0

    def embed_chunks(self, chunks: np.ndarray) -> np.ndarray:
        assert chunks.shape[1:] == (256, 48) and chunks.dtype == np.float32  # Melon's (48, T) transposed, cut
        self.chunks_seen += len(chunks)
        return chunks.mean(axis=1)


def _write_melon(root, rng, n_songs=120, n_playlists=40):
    """Songs of 4 'styles' (mel profiles); each playlist draws from one style. Test split = every 5th song."""
    style = np.arange(n_songs) % 4
    profiles = rng.normal(0, 10, (4, 48))
    for song in range(n_songs):
        path = playlist.mel_path(str(root), song)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        mel = profiles[style[song]][:, None] + rng.normal(0, 3, (48, 300))
        np.save(path, mel.astype(np.float16))
    lists = [{"id": i, "songs": rng.choice(np.flatnonzero(style == i % 4), 12, replace=False).tolist()}
             for i in range(n_playlists)]
    (root / "train.json").write_text(json.dumps(lists[:30]))
    (root / "val.json").write_text(json.dumps(lists[30:]))
    data_dir = root / "prepared"
    data_dir.mkdir()
    songs = list(range(n_songs))
    test = songs[::5]
    (data_dir / "splits.json").write_text(json.dumps({"train": [s for s in songs if s % 5 > 1],
                                                      "validation": songs[1::5], "test": test}))
    return str(data_dir)


def test_evaluate_playlists_on_melon_folder_with_cache_and_missing_files(tmp_path):
    rng = np.random.default_rng(2)
    data_dir = _write_melon(tmp_path, rng)
    embedder = MeanMelEmbedder()
    cache = tmp_path / "cache"
    result = playlist.evaluate_playlists(embedder, str(tmp_path), data_dir, cache_dir=str(cache), exact=True)
    assert result["n_candidates"] == 24 and 26 <= result["n_playlists"] <= 30  # train.json's (the paper's)
    assert result["playlists"] == ["train.json"]
    # Only 24 candidates: a random top 100 holds them all, so only the order separates the two.
    assert result["ndcg@100"] > result["random_baseline"]["ndcg@100"] + 0.1
    assert result["map@100"] > 1.5 * result["random_baseline"]["map@100"]
    assert result["skipped"]["missing"] == 0
    cached = [os.path.join(d, f) for d, _, fs in os.walk(cache) for f in fs]
    assert len(cached) == 1 and cached[0].endswith(".npz")
    with np.load(cached[0]) as data:
        n_cached = len(data["keys"])
        assert 2 * n_cached == embedder.chunks_seen > 200 and data["values"].shape == (n_cached, 48)  # 300 frames
    again = playlist.evaluate_playlists(embedder, str(tmp_path), data_dir, cache_dir=str(cache), exact=True)
    assert embedder.chunks_seen == 2 * n_cached  # all from the cache
    assert again["ndcg@100"] == result["ndcg@100"]

    os.remove(playlist.mel_path(str(tmp_path), 10))  # a test-set song
    os.remove(playlist.mel_path(str(tmp_path), 9))  # a seed song
    with pytest.raises(MissingFilesError, match=rf"2 of {n_cached} files .*9\.npy, .*10\.npy"):
        playlist.evaluate_playlists(embedder, str(tmp_path), data_dir, cache_dir=None)
    skipped = playlist.evaluate_playlists(embedder, str(tmp_path), data_dir, cache_dir=None, allow_missing=True)
    assert skipped["skipped"]["missing"] == 2 and skipped["n_candidates"] == 23


def test_playlists_follow_the_prepared_data_and_test_songs_replace_its_test_split(tmp_path):
    data_dir = _write_melon(tmp_path, np.random.default_rng(2))
    with open(os.path.join(data_dir, "manifest.json"), "w") as f:
        json.dump({"playlist_files": ["train.json", "val.json"]}, f)  # prepared with --playlists=all
    test_songs = np.arange(0, 120, 3)  # another split's test songs
    result = playlist.evaluate_playlists(MeanMelEmbedder(), str(tmp_path), data_dir, exact=True,
                                         test_songs=test_songs)
    assert result["playlists"] == ["train.json", "val.json"] and result["n_playlists"] > 30
    assert result["n_candidates"] == 40
