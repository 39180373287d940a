"""One input contract for audio on every path (files, HEAR, the SavedModel signatures), the decoder's chatter
kept off the console, clear words for undecodable files, and counted skips of files of other extensions."""

import logging

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from cmir_tf import hear
from cmir_tf.audio import PEAK_REFUSAL, AudioDecodeError, AudioInputError, load_audio
from cmir_tf.audio.files import find_inputs
from cmir_tf.export.saved_model import AudioEncoderModule
from cmir_tf.models import build_audio_encoder


def _tone(peak: float, seconds: float = 1.0, rate: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (peak * np.sin(2 * np.pi * 300 * t)).astype(np.float32)


@pytest.fixture(scope="module")
def random_hear():
    return hear.load_model(random_encoder=True)


def test_a_peak_between_1_and_4_is_passed_through_with_a_warning(tmp_path, caplog):
    path = tmp_path / "loud.wav"
    sf.write(path, _tone(3.0), 16000, subtype="FLOAT")
    with caplog.at_level(logging.WARNING):
        waveform = load_audio(str(path))
    assert np.max(np.abs(waveform)) == pytest.approx(3.0, rel=1e-3)  # not clipped to a square wave
    assert any("above full scale" in r.getMessage() and "loud.wav" in r.getMessage() for r in caplog.records)


def test_a_peak_above_4_is_refused_with_the_same_words_on_every_path(tmp_path, random_hear):
    path = tmp_path / "int16_scale.wav"
    sf.write(path, _tone(10.0), 16000, subtype="FLOAT")
    with pytest.raises(AudioInputError, match="int16_scale.wav") as from_file:
        load_audio(str(path))
    with pytest.raises(AudioInputError) as from_hear:
        hear.get_scene_embeddings(tf.constant(_tone(10000.0)[None]), random_hear)
    module = AudioEncoderModule(build_audio_encoder())
    with pytest.raises(tf.errors.InvalidArgumentError) as from_signature:
        module.embed_waveform(tf.constant(_tone(10.0)))
    for refused in (from_file, from_hear, from_signature):
        assert PEAK_REFUSAL in str(refused.value)


def test_empty_sounds_are_refused(tmp_path, random_hear):
    with pytest.raises(AudioInputError, match="sound 0: empty sound"):
        hear.get_scene_embeddings(tf.zeros([1, 0]), random_hear)
    path = tmp_path / "no_frames.wav"
    sf.write(path, np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioDecodeError, match="no audio samples"):
        load_audio(str(path))


def test_hear_load_model_needs_a_path_or_an_explicit_random_encoder():
    with pytest.raises(ValueError, match="random_encoder=True"):
        hear.load_model("")


@pytest.mark.parametrize("kind", ["anti_phase", "silence"])
def test_a_file_that_decodes_to_digital_silence_is_warned_about(kind, tmp_path, caplog):
    left = _tone(0.5) if kind == "anti_phase" else np.zeros(16000, np.float32)
    path = tmp_path / f"{kind}.wav"
    sf.write(path, np.stack([left, -left], axis=1), 16000, subtype="FLOAT")
    with caplog.at_level(logging.WARNING):
        waveform = load_audio(str(path))
    assert not np.any(waveform)
    expected = "cancel to digital silence" if kind == "anti_phase" else "decodes to digital silence"
    assert any(expected in r.getMessage() for r in caplog.records)


def test_mp3_decoder_chatter_stays_off_the_console_and_undecodable_files_are_named_clearly(tmp_path, capfd):
    good = tmp_path / "tone.mp3"
    sf.write(good, _tone(0.3, seconds=3.0), 16000, format="MP3")
    data = good.read_bytes()
    truncated = tmp_path / "truncated.mp3"
    truncated.write_bytes(data[: len(data) // 2])
    text = tmp_path / "text.mp3"
    text.write_text("hello, not audio\n" * 20)
    capfd.readouterr()
    with pytest.raises(RuntimeError):
        sf.read(str(text))  # what libsndfile does by itself: prints libmpg123's notes on fd 2
    assert "Note:" in capfd.readouterr().err
    assert load_audio(str(truncated)).size > 0
    with pytest.raises(AudioDecodeError) as refused:
        load_audio(str(text))
    message = str(refused.value)
    assert "cannot decode" in message and "not a regular file" not in message and "text.mp3" in message
    assert "Note:" not in capfd.readouterr().err


def test_files_of_other_extensions_are_counted(tmp_path):
    (tmp_path / "music" / "sub").mkdir(parents=True)
    sf.write(tmp_path / "music" / "a.wav", _tone(0.3), 16000)
    (tmp_path / "music" / "tune.xm").write_bytes(b"Extended Module: ")
    (tmp_path / "music" / "sub" / "cover.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "music" / ".hidden.xm").write_bytes(b"")
    inputs = find_inputs([str(tmp_path / "music")])
    assert [name for _, name in inputs.files] == ["music/a.wav.npz"] and inputs.skipped_unknown == 2
