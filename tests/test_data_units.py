"""Unit tests of the data modules that need no corpus: schema, mel checks, splits, genre matrix, CF matrix."""

import json
from importlib import resources

import numpy as np
import pytest
import tensorflow as tf

from cmir_tf.constants import CF_DIM, MAX_GENRES
from cmir_tf.data import cf_lightfm, genre_word2vec, melon, splits, tfrecords


def test_example_round_trip_is_bit_exact_float16():
    rng = np.random.default_rng(0)
    mel = (rng.normal(-40, 30, (300, 48))).astype(np.float16)
    mel[0, :4] = [np.float16(-0.0), np.float16(6e-8), np.float16(65504), np.float16(-200)]
    cf = rng.normal(size=CF_DIM).astype(np.float32)
    parsed = tfrecords.parse_example(tfrecords.encode_example(mel, [3, 1, 7], cf, 123456))
    assert parsed["mel"].dtype == tf.float32
    np.testing.assert_array_equal(parsed["mel"].numpy().astype(np.float16).view(np.uint16), mel.view(np.uint16))
    np.testing.assert_array_equal(parsed["genre_ids"].numpy(), [3, 1, 7] + [0] * (MAX_GENRES - 3))
    np.testing.assert_array_equal(parsed["cf"].numpy(), cf)
    assert parsed["has_cf"].numpy() == 1.0 and parsed["song_id"].numpy() == 123456


def test_example_without_cf_stores_zeros():
    parsed = tfrecords.parse_example(tfrecords.encode_example(np.zeros((256, 48)), [1], None, 5))
    assert parsed["has_cf"].numpy() == 0.0 and not parsed["cf"].numpy().any()


@pytest.mark.parametrize("genres", [[], [0, 1], list(range(1, 12))])
def test_example_rejects_bad_genre_ids(genres):
    with pytest.raises(ValueError, match="genre_ids"):
        tfrecords.encode_example(np.zeros((256, 48)), genres, None, 5)


def _save(tmp_path, array, name="x.npy"):
    path = str(tmp_path / name)
    np.save(path, array)
    return path


@pytest.mark.parametrize(
    "array, reason",
    [
        (np.zeros((48, 400), np.float32), "all_zero"),
        (np.full((48, 400), np.nan, np.float16), "non_finite"),
        (np.ones((40, 400), np.float32), "bad_shape"),
        (np.ones((48, 400), np.int16), "bad_shape"),
    ],
)
def test_load_mel_reasons(tmp_path, array, reason):
    with pytest.raises(melon.BadMelError) as error:
        melon.load_mel(_save(tmp_path, array))
    assert error.value.reason == reason


def test_load_mel_missing_truncated_short(tmp_path):
    with pytest.raises(melon.BadMelError, match="missing_npy"):
        melon.load_mel(str(tmp_path / "absent.npy"))
    path = _save(tmp_path, np.ones((48, 400), np.float16))
    with open(path, "r+b") as f:
        f.truncate(300)
    with pytest.raises(melon.BadMelError, match="corrupt_npy"):
        melon.load_mel(path)
    short = np.linspace(-50, -10, 48 * 100, dtype=np.float32).reshape(48, 100)
    mel, padded = melon.load_mel(_save(tmp_path, short, "short.npy"), "pad")
    assert padded and mel.shape == (256, 48)
    np.testing.assert_array_equal(mel[:100], short.T)
    assert (mel[100:] == short.min()).all()
    with pytest.raises(melon.BadMelError, match="short_dropped"):
        melon.load_mel(_save(tmp_path, short, "short.npy"), "drop")


def test_song_genres_levels_dedupe_and_cap():
    song = {"song_gn_gnr_basket": ["GN0100", "GN0200"], "song_gn_dtl_gnr_basket": ["GN0101", "GN0101"]}
    assert melon.song_genres(song, "top") == ["GN0100", "GN0200"]
    assert melon.song_genres(song, "detailed") == ["GN0101"]
    assert melon.song_genres(song, "both") == ["GN0100", "GN0200", "GN0101"]
    many = {"song_gn_gnr_basket": [f"GN{i:02d}00" for i in range(1, 15)], "song_gn_dtl_gnr_basket": []}
    assert len(melon.song_genres(many, "both")) == MAX_GENRES


def test_stratified_split_proportions_and_label_balance():
    rng = np.random.default_rng(0)
    codes = [f"G{i}" for i in range(8)]
    genres = [list(rng.choice(codes, rng.integers(1, 3), replace=False)) for _ in range(1000)]
    ids = list(range(5000, 6000))
    parts = splits.stratified_split(ids, genres, seed=3)
    for split, share in zip(splits.SPLITS, (0.8, 0.1, 0.1)):
        assert abs(len(parts[split]) - share * 1000) <= 10, (split, len(parts[split]))
    assert sorted(sum(parts.values(), [])) == ids
    by_id = dict(zip(ids, genres))
    for code in codes:
        total = sum(code in g for g in genres)
        for split, share in zip(splits.SPLITS, (0.8, 0.1, 0.1)):
            count = sum(code in by_id[s] for s in parts[split])
            assert abs(count - share * total) <= max(2, 0.03 * total), (code, split, count, total)
    assert parts == splits.stratified_split(ids, genres, seed=3)
    assert parts != splits.stratified_split(ids, genres, seed=4)


def test_reference_genre_matrix_keeps_authors_rows():
    root = resources.files("cmir_tf") / "splits" / "melon_reference"
    code_map = json.loads((root / "genre_code_to_index.json").read_text())
    matrix = np.load(root / "genre_word2vec_128.npy")
    vocab, padded = genre_word2vec.from_reference(code_map, matrix)
    assert padded.shape == (len(code_map) + 1, 128) and padded.dtype == np.float32
    assert not padded[0].any() and sorted(vocab.values()) == list(range(1, len(code_map) + 1))
    np.testing.assert_allclose(padded[vocab["GN1400"]], matrix[code_map["GN1400"] + 1], rtol=1e-6)
    with pytest.raises(ValueError):
        genre_word2vec.from_reference(code_map, matrix[1:])


def test_trained_genre_word2vec_shape_and_padding():
    sentences = [["A", "B", "A"], ["B", "C"], ["C", "D", "A"]]
    vocab, matrix = genre_word2vec.train_word2vec(sentences, dim=16, seed=0)
    assert vocab == {"A": 1, "B": 2, "C": 3, "D": 4}
    assert matrix.shape == (5, 16) and not matrix[0].any() and np.abs(matrix[1:]).sum(1).min() > 0
    np.testing.assert_array_equal(matrix, genre_word2vec.train_word2vec(sentences, dim=16, seed=0)[1])


def test_interaction_matrix_only_allowed_songs():
    matrix, song_ids = cf_lightfm.interaction_matrix([[1, 2, 3], [3, 9], [9]], allowed_songs={1, 3, 4})
    assert song_ids.tolist() == [1, 3]
    np.testing.assert_array_equal(matrix.toarray(), [[1, 1], [0, 1]])
    vectors, _ = cf_lightfm.fit_vectors(matrix, epochs=2, seed=0)
    assert vectors.shape == (2, CF_DIM) and vectors.dtype == np.float32
