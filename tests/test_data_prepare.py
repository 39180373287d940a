"""`cmir_tf.data.prepare` end to end on the tiny demo corpus (fixtures in conftest.py)."""

import glob
import json
import os
from importlib import resources

import numpy as np
import pytest
import tensorflow as tf

from cmir_tf.data import checksum, melon, prepared, splits, tfrecords


def _load(prepared, name):
    with open(os.path.join(prepared, name)) as f:
        return json.load(f)


def _records(prepared, split):
    files = sorted(glob.glob(os.path.join(prepared, "tfrecords", f"{split}-*.tfrecord")))
    return [tfrecords.parse_example(r) for r in tf.data.TFRecordDataset(files)]


def test_manifest_counts_and_shards(demo_corpus, prepared_demo):
    manifest, report = _load(prepared_demo, "manifest.json"), _load(prepared_demo, "report.json")
    meta = melon.load_json(os.path.join(demo_corpus, "melon", "song_meta.json"))
    no_genres = sum(not s["song_gn_gnr_basket"] for s in meta)
    assert no_genres > 0 and report["dropped_before_split"]["no_genres"] == no_genres
    assert sum(manifest["counts"].values()) == len(meta) - no_genres
    assert manifest["counts"] == manifest["songs_in_splits"]
    assert report["skipped_mels"] == {} and report["short_padded"] == 0
    for split in splits.SPLITS:
        listed = manifest["shards"][split]
        assert [s["name"] for s in listed] == [prepared.shard_name(split, i, len(listed)) for i in range(len(listed))]
        assert sum(s["count"] for s in listed) == manifest["counts"][split]
        for s in listed:
            assert checksum.sha256_file(os.path.join(prepared_demo, "tfrecords", s["name"])) == s["sha256"]
    assert not glob.glob(os.path.join(prepared_demo, "**", ".*.partial"), recursive=True)


def test_split_proportions_and_genre_stratification(demo_corpus, prepared_demo):
    parts = _load(prepared_demo, "splits.json")
    meta = {s["id"]: s for s in melon.load_json(os.path.join(demo_corpus, "melon", "song_meta.json"))}
    everything = sum(parts.values(), [])
    assert len(everything) == len(set(everything))
    n = len(everything)
    for split, share in zip(splits.SPLITS, (0.8, 0.1, 0.1)):
        assert abs(len(parts[split]) - share * n) <= 0.03 * n + 1
    for code in sorted({c for s in everything for c in meta[s]["song_gn_gnr_basket"]}):
        total = sum(code in meta[s]["song_gn_gnr_basket"] for s in everything)
        train = sum(code in meta[s]["song_gn_gnr_basket"] for s in parts["train"])
        assert abs(train - 0.8 * total) <= max(2, 0.05 * total), code


def test_no_test_song_in_cf_and_records_carry_cf(demo_corpus, prepared_demo):
    parts = _load(prepared_demo, "splits.json")
    cf_ids = np.load(os.path.join(prepared_demo, "cache", "cf_song_ids.npy")).tolist()
    vectors = np.load(os.path.join(prepared_demo, "cache", "cf_vectors.npy"))
    assert not set(cf_ids) & set(parts["test"]) and vectors.shape == (len(cf_ids), 301)
    playlists = melon.load_playlists(os.path.join(demo_corpus, "melon"))
    in_playlists = {s for p in playlists for s in p["songs"]}
    assert set(cf_ids) == in_playlists & set(parts["train"] + parts["validation"])
    row = {s: i for i, s in enumerate(cf_ids)}
    for record in _records(prepared_demo, "train"):
        song = int(record["song_id"])
        assert record["has_cf"].numpy() == (song in row)
        if song in row:
            np.testing.assert_array_equal(record["cf"].numpy(), vectors[row[song]])
    assert all(r["has_cf"].numpy() == 0 and not r["cf"].numpy().any() for r in _records(prepared_demo, "test"))


def test_records_match_input_mels_and_genres(demo_corpus, prepared_demo):
    manifest, vocab = _load(prepared_demo, "manifest.json"), _load(prepared_demo, "genre_vocab.json")
    matrix = np.load(os.path.join(prepared_demo, "genre_word2vec.npy"))
    assert matrix.shape == (len(vocab) + 1, 32) and not matrix[0].any()
    assert sorted(vocab.values()) == list(range(1, len(vocab) + 1))
    melon_dir = os.path.join(demo_corpus, "melon")
    meta = {s["id"]: s for s in melon.load_json(os.path.join(melon_dir, "song_meta.json"))}
    frames = manifest["flags"]["frames"]
    for record in _records(prepared_demo, "validation"):
        song = int(record["song_id"])
        stored = np.load(melon.mel_path(melon_dir, song))  # (48, T) float16
        expected = stored.T[:frames]
        as_float16 = record["mel"].numpy().astype(np.float16)
        np.testing.assert_array_equal(as_float16.view(np.uint16), expected.view(np.uint16))
        codes = melon.song_genres(meta[song], "both")
        ids = record["genre_ids"].numpy()
        assert ids[: len(codes)].tolist() == [vocab[c] for c in codes] and not ids[len(codes) :].any()


def test_rerun_reuses_everything_and_refuses_other_flags(demo_corpus, prepared_demo):
    from conftest import TINY_PREPARE

    from cmir_tf.data import prepare

    before = {p: os.path.getmtime(p) for p in glob.glob(os.path.join(prepared_demo, "tfrecords", "*"))}
    config = prepare.PrepareConfig(os.path.join(demo_corpus, "melon"), prepared_demo, **TINY_PREPARE)
    manifest = prepare.prepare(config)
    assert manifest == _load(prepared_demo, "manifest.json")
    assert before == {p: os.path.getmtime(p) for p in before}
    other = {**TINY_PREPARE, "frames": 500}
    with pytest.raises(ValueError, match="other inputs or flags"):
        prepare.prepare(prepare.PrepareConfig(os.path.join(demo_corpus, "melon"), prepared_demo, **other))


def test_prepare_with_the_authors_genre_matrix(demo_corpus, tmp_path):
    from conftest import TINY_PREPARE

    from cmir_tf.data import prepare

    reference = resources.files("cmir_tf") / "splits" / "melon_reference"
    with resources.as_file(reference) as folder:
        config = prepare.PrepareConfig(
            os.path.join(demo_corpus, "melon"),
            str(tmp_path / "prepared"),
            genre_matrix=os.path.join(folder, "genre_word2vec_128.npy"),
            genre_code_map=os.path.join(folder, "genre_code_to_index.json"),
            **TINY_PREPARE,
        )
        prepare.prepare(config)
        code_map = melon.load_json(config.genre_code_map)
        np.testing.assert_array_equal(
            np.load(os.path.join(config.output_dir, "genre_word2vec.npy")),
            np.load(config.genre_matrix).astype(np.float32),
        )
    assert _load(config.output_dir, "genre_vocab.json") == {c: i + 1 for c, i in code_map.items()}
    # GN0404, a demo code missing from the authors' vocabulary, is dropped from the songs that have it.
    assert "GN0404" not in code_map
    meta = {s["id"]: s for s in melon.load_json(os.path.join(config.melon_dir, "song_meta.json"))}
    with_gn0404 = 0
    for record in _records(config.output_dir, "train"):
        codes = melon.song_genres(meta[int(record["song_id"])], "both")
        kept = [code_map[c] + 1 for c in codes if c != "GN0404"]
        assert record["genre_ids"].numpy()[: len(kept)].tolist() == kept
        assert not record["genre_ids"].numpy()[len(kept) :].any()
        with_gn0404 += "GN0404" in codes
    assert with_gn0404 > 0
