"""Playlist tags as a fourth modality (docs/playlist_tags.md): normalising and counting odd tags, the vocabulary
and tf-idf bags against a plain-Python reference, prepare's tag files and records (Korean round-trips), the tag
encoder (shapes, parameter count), its masked terms, the tag signatures and their refusals, and the joint-space
text query on a planted index."""

import json
import math
import os
import shutil
import unicodedata
from collections import Counter

import numpy as np
import pytest
import tensorflow as tf

from cmir_tf.constants import MAX_TAGS
from cmir_tf.data import make_dataset, playlist_tags, prepare
from cmir_tf.data.prepared import PreparedFolder
from cmir_tf.export.exported import ExportedModel
from cmir_tf.export.genre_vocabulary import tags_from_prepared
from cmir_tf.joint import JointSpace
from cmir_tf.losses import nt_xent
from cmir_tf.models import build_tag_encoder
from cmir_tf.search import write_index

KOREAN = ["드라이브", "새벽", "휴식", "운동", "카페", "발라드"]


def test_tags_are_normalised_and_each_kind_of_odd_tag_is_counted():
    odd = Counter()
    raw = ["  드라이브 ", "DRIVE", "", "   ", 7, None, "x" * 10_000, "드라이브", "카페"]
    assert playlist_tags.tags_of({"tags": raw}, odd) == ["드라이브", "drive", "카페"]
    assert odd == Counter(empty=1, whitespace_only=1, not_a_string=2, too_long=1)
    assert playlist_tags.tags_of({"tags": "드라이브"}, odd) == [] and odd["tags_not_a_list"] == 1
    assert playlist_tags.normalise_tag(unicodedata.normalize("NFD", "새벽")) == ("새벽", None)  # jamo -> syllables
    assert playlist_tags.query_words("드라이브  새벽 드라이브 DRIVE") == ["드라이브", "새벽", "drive"]


def test_the_vocabulary_keeps_tags_of_at_least_min_count_playlists_most_used_first():
    lists = [["a", "b"], ["a", "b", "c"], ["a"], ["c", "a", "a"]]  # a in 4 playlists, b and c in 2
    assert playlist_tags.tag_vocabulary(lists, 2) == {"a": 1, "b": 2, "c": 3}
    assert playlist_tags.tag_vocabulary(lists, 3) == {"a": 1}


def reference_bags(song_lists, tag_lists, vocab, songs, max_tags):
    """tf-idf bags written out in plain Python; also returns whether two different scores of one song are closer
    than 1e-9 (a near tie that rounding could order either way)."""
    playlists = [(set(s), {t for t in tags if t in vocab}) for s, tags in zip(song_lists, tag_lists)]
    playlists = [(s, t) for s, t in playlists if t]
    df = Counter(t for _, tags in playlists for t in tags)
    idf = {t: math.log((1 + len(playlists)) / (1 + df[t])) + 1 for t in df}
    tf_counts: dict[int, Counter] = {}
    for members, tags in playlists:
        for song in members & songs:
            tf_counts.setdefault(song, Counter()).update(tags)
    bags, near_tie = {}, False
    for song, counts in tf_counts.items():
        scores = sorted((counts[t] * idf[t] for t in counts), reverse=True)
        near_tie |= any(0 < a - b < 1e-9 for a, b in zip(scores, scores[1:]))
        bags[song] = [vocab[t] for t in sorted(counts, key=lambda t: (-counts[t] * idf[t], vocab[t]))][:max_tags]
    return bags, near_tie


def test_song_bags_are_the_tf_idf_ranking_of_a_plain_python_reference():
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(30)] + KOREAN
    song_lists = [rng.choice(50, rng.integers(1, 12), replace=False).tolist() for _ in range(80)]
    tag_lists = [list(dict.fromkeys(rng.choice(words, rng.integers(0, 6)).tolist())) for _ in range(80)]
    vocab = playlist_tags.tag_vocabulary(tag_lists, 2)
    songs = set(range(50)) - {3}
    expected, near_tie = reference_bags(song_lists, tag_lists, vocab, songs, 4)
    assert not near_tie and len(expected) > 40
    assert playlist_tags.song_tag_bags(song_lists, tag_lists, vocab, songs, max_tags=4) == expected
    assert 3 not in playlist_tags.song_tag_bags(song_lists, tag_lists, vocab, songs, max_tags=4)


@pytest.fixture(scope="module")
def odd_tags_prepared(demo_corpus, tmp_path_factory):
    """The demo corpus's Melon folder with Korean and odd tags in train.json, prepared (min_tag_count 2);
    val.json's playlists carry a tag of their own, which --playlists=train must not see."""
    from conftest import TINY_PREPARE

    root = tmp_path_factory.mktemp("odd_tags")
    melon = root / "melon"
    shutil.copytree(os.path.join(demo_corpus, "melon"), melon)
    train = json.loads((melon / "train.json").read_text(encoding="utf-8"))
    for i, playlist in enumerate(train):
        playlist["tags"] = [KOREAN[i % 6], KOREAN[(i + 1) % 6], "", "  ", 3, "y" * 10_000, f"혼자{i}"]
    (melon / "train.json").write_text(json.dumps(train, ensure_ascii=False), encoding="utf-8")
    val = json.loads((melon / "val.json").read_text(encoding="utf-8"))
    for playlist in val:
        playlist["tags"] = ["검증전용"]
    (melon / "val.json").write_text(json.dumps(val, ensure_ascii=False), encoding="utf-8")
    out = str(root / "prepared")
    prepare.prepare(prepare.PrepareConfig(str(melon), out, **{**TINY_PREPARE, "min_tag_count": 2}))
    return out, train


def test_prepare_keeps_korean_tags_counts_odd_ones_and_reads_training_playlists_only(odd_tags_prepared):
    out, train = odd_tags_prepared
    folder = PreparedFolder(out)
    assert sorted(folder.tag_vocab()) == sorted(KOREAN)  # the one-playlist tags (혼자i) and val.json's are out
    assert tags_from_prepared(out)[0] in KOREAN
    with open(folder.report_path, encoding="utf-8") as f:
        report = json.load(f)["playlist_tags"]
    n = len(train)
    assert report["odd_tags"] == {"not_a_string": n, "empty": n, "whitespace_only": n, "too_long": n,
                                  "tags_not_a_list": 0}
    assert report["distinct_tags"] == 6 + n and report["vocabulary"] == 6
    assert folder.tag_word2vec().shape == (7, 32) and not folder.tag_word2vec()[0].any()


def test_records_carry_each_songs_bag_for_every_split(odd_tags_prepared):
    out, _ = odd_tags_prepared
    folder = PreparedFolder(out)
    bags = folder.song_tags()
    manifest = folder.manifest()
    assert manifest["tag_vocab_size"] == 6 and manifest["format_version"] == 3
    for split in ("train", "test"):
        assert manifest["with_tags"][split] == sum(s in bags for s in folder.split_ids(split)) > 0
        batch = next(iter(make_dataset(out, split, 16, training=False, seed=0)))
        for song, ids, has in zip(batch["song_id"].numpy(), batch["tag_ids"].numpy(), batch["has_tags"].numpy()):
            expected = bags.get(int(song), [])
            assert ids.tolist() == expected + [0] * (MAX_TAGS - len(expected)) and has == bool(expected)


def test_the_tag_encoder_is_the_genre_builder_with_its_own_names_and_parameter_count():
    v, f = 37, 24
    word2vec = np.random.default_rng(0).normal(size=(v + 1, f)).astype(np.float32)
    word2vec[0] = 0
    encoder = build_tag_encoder(word2vec, num_heads=4, dropout=0.0)
    assert encoder.name == "tag_encoder" and encoder.inputs[0].name.startswith("tag_ids")
    assert encoder.get_layer("tag_word2vec").embeddings.shape == (v + 1, f)
    assert encoder.count_params() == (v + 1) * f + 3 * 128 * f + 128 * 128 + 128 * 128 + 128 + 2 * 128
    ids = np.array([[3, 5, 0, 0], [1, 0, 0, 0]], np.int32)
    out = encoder(ids).numpy()
    assert out.shape == (2, 128)
    np.testing.assert_allclose(encoder(np.pad(ids, [[0, 0], [0, 6]])).numpy(), out, atol=1e-5)  # padding is inert
    with pytest.raises(tf.errors.InvalidArgumentError, match="tag id outside the vocabulary"):
        encoder(np.array([[v + 1]], np.int32))


def test_songs_without_tags_or_cf_take_no_part_in_the_tag_terms(tag_model, prepared_demo):
    model, _ = tag_model
    batch = next(iter(make_dataset(prepared_demo, "train", 12, training=False, seed=0)))
    batch = dict(batch, has_tags=np.array([1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1], np.float32),
                 has_cf=np.array([1, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1], np.float32))
    terms = model.loss_terms(batch, training=False)
    out = model(batch, training=False)
    tags, both = batch["has_tags"] > 0, (batch["has_tags"] * batch["has_cf"]) > 0
    np.testing.assert_allclose(terms["audio_tag"], nt_xent(out["audio"][tags], out["tag"][tags], 0.1), rtol=1e-5)
    np.testing.assert_allclose(terms["tag_cf"], nt_xent(out["tag"][both], out["cf"][both], 0.1), rtol=1e-5)
    assert set(terms) == {"audio_genre", "audio_cf", "genre_cf", "audio_tag", "tag_cf"}


def test_tag_signatures_embed_known_tags_and_refuse_unknown_ones_by_name(tag_model, prepared_demo):
    model, path = tag_model
    exported = ExportedModel(path)
    assert set(exported.modalities) == {"cf", "genre", "tag"}
    space = JointSpace(exported)
    vocab = PreparedFolder(prepared_demo).tag_vocab()
    assert space.has_tags and space.tag_vocabulary == tuple(sorted(vocab, key=vocab.get))
    two = list(space.tag_vocabulary[:2])
    expected = model.tag_encoder(np.array([[vocab[t] for t in two]], np.int32), training=False).numpy()
    np.testing.assert_allclose(space.embed_tags([two]), expected, atol=1e-5)
    with pytest.raises(tf.errors.InvalidArgumentError, match="playlist tags not in the model.*tag_vocabulary.*없는태그"):
        space.embed_tags([[two[0], "없는태그"]])
    with pytest.raises(ValueError, match="없는태그"):
        space.tags_vector(["없는태그"])
    assert space.top_tags(space.tag_embeddings[:1], top_k=3)[0][0] == (space.tag_vocabulary[0], pytest.approx(1.0))


def test_a_text_query_returns_the_planted_songs_first(tag_model, tmp_path, capsys):
    """An index whose songs 0-4 lie next to the mean tag embedding of the query, the rest orthogonal to it;
    `cmir-search text` run in-process (its flags parsed as absl's app.run does)."""
    from test_exported_model import search

    _, path = tag_model
    space = JointSpace(path)
    query = list(space.tag_vocabulary[:2])
    target = space.tags_vector(query)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(60, 128)).astype(np.float32)
    vectors -= np.outer(vectors @ target, target) / (target @ target)  # the others: orthogonal to the query
    vectors[:5] = target + 0.05 * rng.normal(size=(5, 128)) * np.linalg.norm(target)
    paths = [str(tmp_path / f"song{i:02d}.wav") for i in range(60)]
    write_index(str(tmp_path / "index"), vectors, paths, space)
    capsys.readouterr()
    assert search("text", f"{query[0]} {query[1].upper()} 없는태그", f"--index={tmp_path / 'index'}", "--top_k=5") == 0
    found = capsys.readouterr()
    assert sorted(line.split("\t")[1] for line in found.out.splitlines()) == paths[:5]
    assert "not in the tag vocabulary, skipped: 없는태그" in found.err
    assert search("text", "없는태그 모름", f"--index={tmp_path / 'index'}") == 2
    refused = capsys.readouterr().err.strip().splitlines()
    assert len(refused) == 1 and "없는태그" in refused[0]


def test_a_tag_checkpoint_re_exports_with_its_tag_encoder(tag_model, prepared_demo, tmp_path):
    """`cmir-export` (in-process) restores the tag encoder of a contr_cf_g_t checkpoint next to the others."""
    from cli_helpers import run_cli

    from cmir_tf.cli import export as export_cli

    model, _ = tag_model
    tf.train.Checkpoint(model=model).save(str(tmp_path / "ckpt" / "ckpt"))
    argv = [f"--checkpoint={tmp_path / 'ckpt'}", "--variant=contr_cf_g_t", f"--data_dir={prepared_demo}",
            f"--output_dir={tmp_path / 'model'}"]
    assert run_cli(export_cli.define_flags, export_cli.main, argv) == 0
    space = JointSpace(str(tmp_path / "model"))
    assert set(space.model.modalities) == {"cf", "genre", "tag"}
    vocab = PreparedFolder(prepared_demo).tag_vocab()
    first = space.tag_vocabulary[0]
    expected = model.tag_encoder(np.array([[vocab[first]]], np.int32), training=False).numpy()
    np.testing.assert_allclose(space.embed_tags([[first]]), expected, atol=1e-5)


def test_cmir_search_tags_lists_a_files_playlist_tags_after_its_genres(tag_model, tmp_path, capsys):
    import soundfile as sf
    from test_exported_model import search

    _, path = tag_model
    t = np.arange(3 * 16000) / 16000
    sf.write(tmp_path / "song.wav", (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 16000)
    capsys.readouterr()
    assert search("tags", str(tmp_path / "song.wav"), f"--model={path}", "--top_k=3") == 0
    (line,) = capsys.readouterr().out.splitlines()
    columns = line.split("\t")
    vocabulary = JointSpace(path).tag_vocabulary
    assert columns[0] == str(tmp_path / "song.wav") and len(columns) == 1 + 3 + 3
    assert not any(c.startswith("#") for c in columns[1:4])  # genre codes first
    assert all(c.startswith("#") and c[1:].rsplit(" ", 1)[0] in vocabulary for c in columns[4:])


def test_tags_vector_and_a_text_query_share_one_normalisation(tag_model):
    """`JointSpace.tags_vector(["KPOP"])` accepts what `cmir-search text "KPOP"` accepts: both normalise with
    `playlist_tags.normalise_tag` (NFC, stripped, lower case)."""
    space = JointSpace(tag_model[1])
    tag = space.tag_vocabulary[0]
    shouted = f"  {tag.upper()} "
    assert playlist_tags.query_words(shouted) == [tag]
    np.testing.assert_array_equal(space.tags_vector([shouted]), space.tags_vector([tag]))
