"""Decoding, resampling, segments and chunking, including bad input."""

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from cmir_tf.audio import AudioDecodeError, chunk_centers_ms, chunk_mel, load_audio, num_frames, select_segment


def _sine(rate: int, seconds: float, hz: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_16k_mono_float_wav_round_trips(tmp_path):
    x = _sine(16000, 0.5)
    sf.write(tmp_path / "a.wav", x, 16000, subtype="FLOAT")
    y = load_audio(str(tmp_path / "a.wav"))
    assert y.dtype == np.float32 and y.shape == (8000,)
    np.testing.assert_array_equal(y, x)


@pytest.mark.parametrize("extension", ["flac", "ogg", "mp3", "au", "aiff"])
def test_compressed_and_other_formats_decode(tmp_path, extension):
    x = _sine(44100, 1.0, hz=1000.0)
    sf.write(tmp_path / f"a.{extension}", x, 44100)
    y = load_audio(str(tmp_path / f"a.{extension}"))
    assert abs(len(y) - 16000) <= 1200  # mp3 encoder delay and padding
    assert abs(np.sqrt(np.mean(y**2)) - 0.5 / np.sqrt(2)) < 0.02  # same loudness


def test_multichannel_is_averaged(tmp_path):
    left, right = _sine(16000, 0.25, 440), _sine(16000, 0.25, 1000)
    sf.write(tmp_path / "stereo.flac", np.stack([left, right, np.zeros_like(left)], axis=1), 16000)
    y = load_audio(str(tmp_path / "stereo.flac"))
    np.testing.assert_allclose(y, (left + right) / 3, atol=1e-4)  # 16-bit FLAC quantisation


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 48000])
def test_other_rates_are_resampled_to_16k(tmp_path, rate):
    sf.write(tmp_path / "a.wav", _sine(rate, 1.0, hz=1000.0), rate, subtype="PCM_24")
    y = load_audio(str(tmp_path / "a.wav"))
    assert abs(len(y) - 16000) <= 1
    expected = _sine(16000, 1.0, hz=1000.0)[: len(y)]
    np.testing.assert_allclose(y[500:-500], expected[500:-500], atol=2e-3)  # HQ resampling, away from edges


def test_8bit_wav_and_clipping_to_unit_range(tmp_path):
    sf.write(tmp_path / "u8.wav", _sine(11025, 0.5, amplitude=1.0), 11025, subtype="PCM_U8")
    y = load_audio(str(tmp_path / "u8.wav"))
    assert abs(len(y) - 8000) <= 1 and np.abs(y).max() <= 1.0 and np.abs(y).max() > 0.9


def test_empty_and_undecodable_files_raise_audio_decode_error(tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.mp3").write_bytes(b"this is not audio at all" * 100)
    sf.write(tmp_path / "zero_frames.wav", np.zeros((0,), np.float32), 16000)
    for name in ("empty.wav", "text.mp3", "zero_frames.wav"):
        with pytest.raises(AudioDecodeError, match=name):
            load_audio(str(tmp_path / name))
    assert issubclass(AudioDecodeError, ValueError)
    with pytest.raises(FileNotFoundError):
        load_audio(str(tmp_path / "missing.wav"))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_samples_raise_value_error(tmp_path, bad):
    x = _sine(16000, 0.1)
    x[100] = bad
    sf.write(tmp_path / "bad.wav", x, 16000, subtype="FLOAT")
    with pytest.raises(ValueError, match="NaN or inf samples .first at index 100"):
        load_audio(str(tmp_path / "bad.wav"))


def test_select_segment():
    x = np.arange(40 * 16000, dtype=np.float32)
    centre = select_segment(x, "center29.1")
    assert len(centre) == 465_600 and centre[0] == (len(x) - 465_600) // 2
    assert select_segment(x, "full") is x
    short = x[:1000]
    np.testing.assert_array_equal(select_segment(short, "center29.1"), short)
    with pytest.raises(ValueError, match="center29.1"):
        select_segment(x, "middle")


def test_chunk_mel_wraps_the_last_chunk():
    mel = np.arange(300 * 48, dtype=np.float32).reshape(300, 48)
    chunks = chunk_mel(mel).numpy()
    assert chunks.shape == (2, 256, 48)
    np.testing.assert_array_equal(chunks[0], mel[:256])
    np.testing.assert_array_equal(chunks[1, :44], mel[256:])
    np.testing.assert_array_equal(chunks[1, 44:], mel[:212])  # completed from the track's start


def test_chunk_mel_tiles_a_track_shorter_than_a_chunk():
    mel = np.random.default_rng(0).normal(size=(100, 48)).astype(np.float32)
    chunks = chunk_mel(mel).numpy()
    assert chunks.shape == (1, 256, 48)
    np.testing.assert_array_equal(chunks[0], np.pad(mel, [(0, 156), (0, 0)], mode="wrap"))
    assert chunk_mel(mel[:256]).shape == (1, 256, 48)
    with pytest.raises(tf.errors.InvalidArgumentError, match="at least one frame"):
        chunk_mel(np.zeros((0, 48), np.float32))


def test_chunk_centres_in_ms_lie_inside_the_track():
    np.testing.assert_allclose(chunk_centers_ms(768).numpy(), [2040.0, 6136.0, 10232.0])  # three full chunks
    np.testing.assert_allclose(chunk_centers_ms(300).numpy(), [2040.0, (256 + 299) * 8.0])  # last chunk: 44 frames
    one_second = chunk_centers_ms(num_frames(16000)).numpy()  # 64 frames, one wrapped chunk
    np.testing.assert_allclose(one_second, [63 * 8.0])  # 504 ms, not 2,040 ms
    assert 0 < one_second[0] < 1000
