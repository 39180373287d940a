"""The joint-space SavedModel signatures, their input checks, `cmir_tf.joint` and the `cmir-search` CLI."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from cmir_tf.audio import load_audio
from cmir_tf.data.lock import DirectoryLockedError
from cmir_tf.export import export_audio_encoder
from cmir_tf.export.genre_vocabulary import GenreVocabulary
from cmir_tf.joint import JointSpace, MissingSignatureError
from cmir_tf.models import build_variant
from cmir_tf.search import AudioIndex, build_index

JOINT_SIGNATURES = {"embed_genres", "genre_vocabulary", "embed_cf"}


@pytest.fixture(scope="module")
def joint_model(prepared_demo, tmp_path_factory):
    """(randomly initialised contr_cf_g on the demo vocabulary, its SavedModel folder)."""
    keras.utils.set_random_seed(0)
    model = build_variant("contr_cf_g", np.load(os.path.join(prepared_demo, "genre_word2vec.npy")))
    path = export_audio_encoder(
        model.audio_encoder, str(tmp_path_factory.mktemp("joint") / "model"), {"variant": "contr_cf_g"},
        genre_encoder=model.genre_encoder, cf_encoder=model.cf_encoder,
        vocabulary=GenreVocabulary.from_prepared(prepared_demo))
    return model, path


@pytest.fixture
def audio_only_model(audio_export):
    """What a baseline variant exports: the audio signatures only."""
    return audio_export


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    """Three 2 s tones of different pitch and one file that is not audio."""
    folder = tmp_path_factory.mktemp("music")
    t = np.arange(32000) / 16000
    for i, pitch in enumerate((220, 440, 880)):
        sf.write(folder / f"song{i}.wav", (0.3 * np.sin(2 * np.pi * pitch * t)).astype(np.float32), 16000)
    (folder / "broken.wav").write_bytes(b"not audio")
    return folder


def test_contrastive_export_carries_the_genre_and_cf_encoders(joint_model, prepared_demo):
    model, path = joint_model
    loaded = tf.saved_model.load(path)
    assert JOINT_SIGNATURES <= set(loaded.signatures)
    with open(os.path.join(path, "assets", "cmir_tf.json")) as f:
        assert JOINT_SIGNATURES <= set(json.load(f)["signatures"])
    with open(os.path.join(prepared_demo, "genre_vocab.json")) as f:
        ids = json.load(f)
    vocabulary = JointSpace(path).vocabulary
    assert vocabulary.codes == tuple(sorted(ids, key=ids.get))
    assert dict(zip(vocabulary.codes, vocabulary.names))["GN0100"] == "Ballad"  # from genre_gn_all.json

    codes = [["GN0100", "GN0201", ""], ["GN0300", "", ""]]
    embedding = loaded.signatures["embed_genres"](genre_codes=tf.constant(codes))["embedding"].numpy()
    keras_ids = np.array([[ids["GN0100"], ids["GN0201"], 0], [ids["GN0300"], 0, 0]], np.int32)
    np.testing.assert_allclose(embedding, model.genre_encoder(keras_ids, training=False), atol=1e-5)
    narrower = loaded.signatures["embed_genres"](genre_codes=tf.constant([c[:2] for c in codes]))["embedding"]
    np.testing.assert_allclose(narrower, embedding, atol=1e-5)  # padding changes nothing

    cf = np.random.default_rng(0).normal(size=(3, 301)).astype(np.float32)
    np.testing.assert_allclose(loaded.signatures["embed_cf"](cf=tf.constant(cf))["embedding"],
                               model.cf_encoder(cf, training=False), atol=1e-5)


BAD_INPUTS = [  # (signature, input name, value, message pattern)
    ("embed_mel", "mel", np.full((1, 256, 48), np.nan, np.float32), "NaN or inf"),
    ("embed_mel", "mel", np.zeros((0, 256, 48), np.float32), "is empty"),
    ("embed_track_mel", "mel", np.zeros((0, 48), np.float32), "is empty"),
    ("embed_track_mel", "mel", np.full((300, 48), np.inf, np.float32), "NaN or inf"),
    ("embed_waveform", "waveform", np.zeros(0, np.float32), "is empty"),
    ("embed_waveform", "waveform", np.full(16000, np.nan, np.float32), "NaN or inf"),
    ("embed_waveform", "waveform", np.full(16000, 0.5 * 32768, np.float32), r"scaled to \[-1, 1\]"),
    ("embed_waveform", "waveform", np.full(16000, 1e30, np.float32), r"scaled to \[-1, 1\]"),
    ("embed_genres", "genre_codes", np.array([["GN0100", "GN9999"]], object), "GN9999"),
    ("embed_genres", "genre_codes", np.array([["GN0100"], [""]], object), "only padding"),
    ("embed_genres", "genre_codes", np.zeros((0, 2), object), "is empty"),
    ("embed_cf", "cf", np.full((2, 301), np.nan, np.float32), "NaN or inf"),
]


def test_every_signature_rejects_bad_input_with_a_clear_message(joint_model):
    signatures = tf.saved_model.load(joint_model[1]).signatures
    for signature, name, value, message in BAD_INPUTS:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            signatures[signature](**{name: tf.constant(value)})
    loud_but_float = np.full(4000, 3.9, np.float32)  # clipped float audio stays accepted
    assert signatures["embed_waveform"](waveform=tf.constant(loud_but_float))["mean_embedding"].shape == (128,)


def test_a_model_without_genres_is_refused_by_the_api_and_the_cli(audio_only_model, music):
    space = JointSpace(audio_only_model)
    assert not space.has_genres and not space.has_cf
    with pytest.raises(MissingSignatureError, match="embed_genres.*bline_g"):
        space.tag_files([str(music / "song0.wav")])
    with pytest.raises(MissingSignatureError, match="embed_cf"):
        space.embed_cf(np.zeros((1, 301), np.float32))
    result = subprocess.run([sys.executable, "-m", "cmir_tf", "search", "tags", str(music / "song0.wav"),
                             f"--model={audio_only_model}"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert "embed_genres" in result.stderr.splitlines()[-1] and "Traceback" not in result.stderr


def test_zero_shot_tags_rank_the_genre_an_embedding_points_at(joint_model, music):
    space = JointSpace(joint_model[1])
    codes = space.vocabulary.codes
    pointing = space.genre_embeddings[[3, 7]] * 2.5  # any scale: scores are cosines
    tags = space.tags(pointing, top_k=4)
    assert [t[0].code for t in tags] == [codes[3], codes[7]]
    assert tags[0][0].score == pytest.approx(1.0, abs=1e-5)
    (file_tags,) = space.tag_files([str(music / "song0.wav")], top_k=5)
    assert len(file_tags) == 5 and all(a.score >= b.score for a, b in zip(file_tags, file_tags[1:]))


def test_files_embedded_in_shared_batches_match_embed_waveform_one_by_one(joint_model, music):
    space = JointSpace(joint_model[1])
    names = ["song0.wav", "broken.wav", "song1.wav", "song2.wav"]
    embedded = list(space.embed_files([str(music / name) for name in names]))
    assert [os.path.basename(path) for path, _ in embedded] == names
    assert isinstance(embedded[1][1], ValueError) and "broken.wav" in str(embedded[1][1])
    for name, (_, embedding) in zip(names, embedded):
        if name != "broken.wav":
            waveform = tf.constant(load_audio(str(music / name)))
            one_by_one = space.signatures["embed_waveform"](waveform=waveform)["mean_embedding"].numpy()
            # the files' log-mel is scipy's, the signature's TensorFlow's: equal to FFT rounding (mel_numpy)
            np.testing.assert_allclose(embedding, one_by_one, rtol=1e-5, atol=1e-3)


def test_index_is_written_atomically_and_answers_nearest_queries(joint_model, music, tmp_path):
    space = JointSpace(joint_model[1])
    songs = sorted(str(p) for p in music.glob("*.wav"))
    summary = build_index(space, songs, str(tmp_path / "music.idx"), n_trees=5)
    assert summary.indexed == 3 and [os.path.basename(f) for f, _ in summary.failed] == ["broken.wav"]
    assert sorted(os.listdir(tmp_path)) == ["music.idx"]  # no scratch folder left
    with pytest.raises(FileExistsError):
        build_index(space, songs, str(tmp_path / "music.idx"))
    index = AudioIndex(str(tmp_path / "music.idx"))
    query = str(music / "song1.wav")
    found = index.nearest(space.embed_file(query), top_k=3)
    assert found[0] == (os.path.abspath(query), pytest.approx(1.0, abs=1e-5))
    assert os.path.abspath(query) not in [p for p, _ in index.nearest(space.embed_file(query), 3, exclude=query)]


def test_cmir_search_commands(joint_model, music, tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "cmir_tf", "search", *args], capture_output=True, text=True,
                              timeout=300)

    index_dir = str(tmp_path / "music.idx")
    built = cli("index", str(music), f"--model={joint_model[1]}", f"--index={index_dir}", "--n_trees=5")
    assert built.returncode == 1  # the broken file is listed, the others indexed
    assert "indexed 3 of 4 files" in built.stderr and "broken.wav" in built.stderr
    assert built.stderr.splitlines()[-1] == "cmir-search: error: 1 of 4 audio files could not be used (listed above)"
    ranked = cli("genre", "GN0100", f"--index={index_dir}")
    assert ranked.returncode == 0, ranked.stderr
    cosines = [float(line.split("\t")[0]) for line in ranked.stdout.splitlines()]
    assert len(cosines) == 3 and cosines == sorted(cosines, reverse=True)


def test_a_second_build_of_the_same_index_is_refused_while_one_runs(joint_model, music, tmp_path):
    index_dir = str(tmp_path / "music.idx")
    lock_dir = str(tmp_path / ".music.idx.building")
    holder = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "hold_lock.py"), lock_dir],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(DirectoryLockedError, match=f"pid {holder.pid}"):
            build_index(JointSpace(joint_model[1]), [str(music / "song0.wav")], index_dir, n_trees=2)
        assert not os.path.exists(index_dir)
    finally:
        holder.communicate("\n", timeout=60)
    build_index(JointSpace(joint_model[1]), [str(music / "song0.wav")], index_dir, n_trees=2)
    assert sorted(os.listdir(tmp_path)) == ["music.idx"]  # the lock folder goes with the build
