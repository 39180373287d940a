"""Evaluation at Melon scale: vectorised queries, one embedding pass for both outputs (also from an old
single-output cache), `--test_songs` in every playlist-task part, query sampling, threaded Annoy."""

import json
import os

import numpy as np
import pytest

from cmir_tf.evaluation import cold_start, embedding_map, neighbours, playlist, results


def per_playlist_queries(playlists, test_songs):
    """The former `build_queries`, one `np.isin` per playlist: the reference the vectorised one must equal."""
    seeds, truth, index = [], [], []
    for i, songs in enumerate(playlists):
        songs = np.unique(songs)
        in_test = np.isin(songs, test_songs)
        if in_test.any() and not in_test.all():
            seeds.append(songs[~in_test])
            truth.append(songs[in_test])
            index.append(i)
    return seeds, truth, index


def test_vectorised_queries_equal_the_per_playlist_ones():
    rng = np.random.default_rng(0)
    playlists = [rng.integers(0, 500, size=rng.integers(0, 30)) for _ in range(400)]  # repeats, empty ones
    playlists += [np.array([3, 3]), np.array([], dtype=np.int64), np.array([7, 1000, 7])]
    test_songs = np.unique(np.concatenate([rng.integers(0, 500, size=60), [3, 7]]))
    queries = playlist.build_queries(playlists, rng.permutation(test_songs))  # any order of the test songs
    seeds, truth, index = per_playlist_queries(playlists, test_songs)
    assert len(index) > 100 and queries.index.tolist() == index
    for got, expected in zip(queries.seeds + queries.truth, seeds + truth):
        assert got.dtype == np.int64 and got.tolist() == expected.tolist()
    assert playlist.build_queries([], test_songs).seeds == []


def test_rows_of_drops_unknown_ids_and_samples_are_seeded_subsets():
    rows = playlist.rows_of([np.array([5, 9, 2]), np.array([4]), np.array([9])], np.array([2, 5, 9]))
    assert [r.tolist() for r in rows] == [[1, 2, 0], [], [2]]
    queries = playlist.build_queries([np.array([i, 100 + i]) for i in range(50)], np.arange(100, 150))
    sample = playlist.sample_queries(queries, 10, seed=3)
    assert sample.index.tolist() == sorted(sample.index.tolist()) and len(set(sample.index.tolist())) == 10
    assert sample.index.tolist() == playlist.sample_queries(queries, 10, seed=3).index.tolist()
    assert sample.index.tolist() != playlist.sample_queries(queries, 10, seed=4).index.tolist()
    assert [s.tolist() for s in sample.seeds] == [[i] for i in sample.index.tolist()]
    assert playlist.sample_queries(queries, 80, seed=3).index.tolist() == queries.index.tolist()  # all of them


class OneOutputEmbedder:
    """Stand-in for an embedder offering its `output` alone (as the old evaluation used every embedder):
    `features` = the chunk's mean log-mel (48-d), `embedding` = its first 8 values."""

    model_key, dims = "two-outputs", {"features": 48, "embedding": 8}

    def __init__(self, output="features"):
        self.output, self.dim = output, self.dims[output]
        self.calls = {"chunks": 0, "both": 0}

    def embed_chunks(self, chunks):
        self.calls["chunks"] += len(chunks)
        return chunks.mean(axis=1)[:, :self.dim]


class TwoOutputEmbedder(OneOutputEmbedder):
    """Stand-in for a SavedModelEmbedder: `embed_both` gives both outputs in one call."""

    def embed_both(self, chunks):
        self.calls["both"] += len(chunks)
        features = chunks.mean(axis=1)
        return {"features": features, "embedding": features[:, :8]}


def _write_melon(root, rng, n_songs=120, n_playlists=40):
    """A tiny Melon folder (4 mel 'styles', one per playlist), a prepared folder whose test split is every
    5th song, LightFM playlist vectors for every playlist and genre metadata."""
    style = np.arange(n_songs) % 4
    profiles = rng.normal(0, 10, (4, 48))
    for song in range(n_songs):
        path = playlist.mel_path(str(root), song)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        np.save(path, (profiles[style[song]][:, None] + rng.normal(0, 3, (48, 300))).astype(np.float16))
    lists = [{"id": i, "songs": rng.choice(np.flatnonzero(style == i % 4), 12, replace=False).tolist()}
             for i in range(n_playlists)]
    (root / "train.json").write_text(json.dumps(lists))
    (root / "song_meta.json").write_text(json.dumps(
        [{"id": s, "song_gn_gnr_basket": [f"GN0{style[s] + 1}00"]} for s in range(n_songs)]))
    (root / "genre_gn_all.json").write_text(json.dumps({f"GN0{i}00": f"style {i}" for i in range(1, 5)}))
    data_dir = root / "prepared"
    data_dir.mkdir()
    songs = list(range(n_songs))
    (data_dir / "splits.json").write_text(json.dumps({"train": [s for s in songs if s % 5 > 1],
                                                      "validation": songs[1::5], "test": songs[::5]}))
    np.save(data_dir / "cf_playlist_vectors.npy", profiles[np.arange(n_playlists) % 4][:, :8].astype(np.float32))
    np.save(data_dir / "cf_playlist_ids.npy", np.arange(n_playlists))
    return str(data_dir)


class IdentitySpace:
    """A joint space whose `embed_cf` is the identity: playlist vector i is its style's first 8 mel values."""

    def require(self, signature, purpose):
        assert signature == "embed_cf"

    def embed_cf(self, cf):
        return cf


def _cache_files(cache, folder):
    path = cache / "two-outputs" / folder
    return sorted(os.listdir(path)) if path.exists() else []


def test_one_pass_embeds_both_outputs_and_cold_start_reads_them_from_the_cache(tmp_path):
    data_dir = _write_melon(tmp_path, np.random.default_rng(2))
    cache = tmp_path / "cache"
    old = OneOutputEmbedder()  # an old single-output cache: `features` only
    first = playlist.evaluate_playlists(old, str(tmp_path), data_dir, cache_dir=str(cache), exact=True)
    folders = sorted(os.listdir(cache / "two-outputs"))
    assert len(folders) == 1 and folders[0].endswith("-features")
    features_folder = folders[0]
    embedding_folder = features_folder.replace("-features", "-embedding")

    embedder = TwoOutputEmbedder()
    again = playlist.evaluate_playlists(embedder, str(tmp_path), data_dir, cache_dir=str(cache), exact=True)
    assert again["ndcg@100"] == first["ndcg@100"]  # the cached features are read as they were
    assert embedder.calls["chunks"] == 0 and embedder.calls["both"] > 0  # the embedding output computed
    assert _cache_files(cache, features_folder) == ["shard-00000.npz"]  # nothing rewritten
    assert _cache_files(cache, embedding_folder) == ["shard-00000.npz"]

    joint = TwoOutputEmbedder(output="embedding")
    result = cold_start.evaluate_cold_start(IdentitySpace(), joint, str(tmp_path), data_dir, cache_dir=str(cache))
    assert joint.calls == {"chunks": 0, "both": 0}  # every test song's `embedding` came from the cache
    assert result["n_candidates"] == 24 and result["ndcg@100"] > result["random_baseline"]["ndcg@100"]

    fresh = TwoOutputEmbedder()
    playlist.evaluate_playlists(fresh, str(tmp_path), data_dir, cache_dir=None, exact=True)
    assert fresh.calls["chunks"] == 0  # one pass for both outputs in memory too
    assert fresh.calls["both"] == embedder.calls["both"]


def test_test_songs_and_query_sample_reach_every_part_of_the_playlist_task(tmp_path, monkeypatch):
    data_dir = _write_melon(tmp_path, np.random.default_rng(2))
    monkeypatch.setattr(embedding_map, "tsne_2d", lambda vectors, seed: vectors[:, :2])  # the songs matter here
    monkeypatch.setattr(embedding_map, "save_map_png", lambda points, labels, path, title: None)
    test_songs = np.arange(0, 120, 6)  # 20 songs, not the prepared split's 24
    embedder = TwoOutputEmbedder()
    summary = embedding_map.melon_embedding_map(embedder, str(tmp_path), data_dir, str(tmp_path / "map.png"),
                                  test_songs=test_songs)
    assert summary["songs"] == 20 and embedder.calls["both"] == 0 and embedder.calls["chunks"] == 40  # 2 chunks
    joint = TwoOutputEmbedder(output="embedding")
    cold = cold_start.evaluate_cold_start(IdentitySpace(), joint, str(tmp_path), data_dir, test_songs=test_songs)
    assert cold["n_candidates"] == 20 and joint.calls["chunks"] == 40 and cold["query_sample"] is None

    full = playlist.evaluate_playlists(embedder, str(tmp_path), data_dir, exact=True, test_songs=test_songs)
    sampled = playlist.evaluate_playlists(embedder, str(tmp_path), data_dir, exact=True, test_songs=test_songs,
                                          query_sample=10, seed=1)
    assert full["query_sample"] is None and full["n_candidates"] == sampled["n_candidates"] == 20
    assert sampled["query_sample"] == {"n": 10, "of": full["n_playlists"], "seed": 1}
    assert sampled["n_playlists"] == 10 and sampled["n_seed_songs"] < full["n_seed_songs"]
    cold_sampled = cold_start.evaluate_cold_start(IdentitySpace(), joint, str(tmp_path), data_dir,
                                                  test_songs=test_songs, query_sample=5, seed=1)
    assert cold_sampled["n_playlists"] == 5 and cold_sampled["query_sample"]["of"] == cold["n_playlists"]
    title = results.markdown_table("playlist", {"A": full, "B": sampled}).splitlines()[0]
    assert f"a seeded sample of 10 of {full['n_playlists']} query playlists (a deviation from the paper" in title
    assert "sample" not in results.markdown_table("playlist", {"A": full}).splitlines()[0]


def test_threaded_annoy_search_equals_one_thread():
    rng = np.random.default_rng(0)
    candidates = rng.standard_normal((500, 16)).astype(np.float32)
    index = neighbours.build_annoy_index(candidates, n_trees=5)
    queries = rng.standard_normal((101, 16)).astype(np.float32)
    one = neighbours.annoy_neighbours(index, queries, k=10, threads=1)
    three = neighbours.annoy_neighbours(index, queries, k=10, threads=3)
    np.testing.assert_array_equal(one[0], three[0])
    np.testing.assert_array_equal(one[1], three[1])
    assert (one[0] >= 0).all()


def test_an_output_the_embedder_lacks_is_refused(tmp_path):
    data_dir = _write_melon(tmp_path, np.random.default_rng(2))
    with pytest.raises(ValueError, match="cold-start needs the joint-space `embedding` output"):
        cold_start.evaluate_cold_start(IdentitySpace(), OneOutputEmbedder(), str(tmp_path), data_dir)
    with pytest.raises(ValueError, match="the embedder offers no 'embedding' output"):
        playlist.embed_melon_songs(OneOutputEmbedder(), str(tmp_path), np.array([0]), cache_dir=None,
                                   allow_missing=False, what="a test", output="embedding")


def test_a_spectrogram_with_infinities_is_named_or_counted(tmp_path):
    data_dir = _write_melon(tmp_path, np.random.default_rng(2))
    mel = np.load(playlist.mel_path(str(tmp_path), 10))
    mel[3, 7] = -np.inf  # 20 log10(0), as in about 0.3 % of Melon's files
    np.save(playlist.mel_path(str(tmp_path), 10), mel)
    with pytest.raises(ValueError, match="10: DatasetError: the spectrogram holds infinities"):
        playlist.evaluate_playlists(OneOutputEmbedder(), str(tmp_path), data_dir, exact=True)
    result = playlist.evaluate_playlists(OneOutputEmbedder(), str(tmp_path), data_dir, exact=True, allow_missing=True)
    assert result["skipped"]["undecodable"] == 1 and result["n_candidates"] == 23

