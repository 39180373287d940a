"""The TensorFlow log-mel against Essentia itself (the recipe Melon's `arena_mel` was made with)."""

import os
import sysconfig

import numpy as np
import pytest
import tensorflow as tf

from cmir_tf.audio import FLOOR_DB, load_audio, log_mel_spectrogram, mel_filterbank, num_frames
from cmir_tf.audio.mel import power_to_db

es = pytest.importorskip("essentia.standard")

# Values more than 200 dB (i.e. 1e-10 in power) below their frame's loudest band are float32
# FFT round-off in both implementations: there each is ~0.5 dB off a float64 computation, and they differ by
# up to ~1 dB from each other (e.g. the chirp, near -197 dB).
ROUND_OFF_RANGE_DB = 200.0
PYTHON_TEST_DATA = os.path.join(sysconfig.get_paths()["stdlib"], "test")
REAL_RECORDINGS = [
    os.path.join(PYTHON_TEST_DATA, "audiotest.au"),  # 3.5 s, 8012 Hz, u-law
    os.path.join(PYTHON_TEST_DATA, "audiodata", "pluck-pcm16.wav"),  # 0.3 s, 11025 Hz, stereo
]


# Every Essentia parameter is spelled out: a default (weighting='warping' until issue 11) must never hide a change.
def _essentia_mel_bands() -> "es.MelBands":
    return es.MelBands(
        numberBands=48,
        sampleRate=16000,
        lowFrequencyBound=0,
        highFrequencyBound=8000,
        inputSize=257,
        weighting="linear",
        normalize="unit_tri",
        warpingFormula="slaneyMel",
        type="power",
        log=False,
    )


def _essentia_lin2db() -> "es.UnaryOperator":
    return es.UnaryOperator(type="lin2db", scale=2, shift=0)


def essentia_log_mel(waveform: np.ndarray) -> np.ndarray:
    """Melon's recipe in Essentia (the authors' `melspectrogram`): (n,) float32 -> (T, 48) dB."""
    window = es.Windowing(
        type="hann", normalized=False, size=512, zeroPadding=0, zeroPhase=True, symmetric=True, splitPadding=False,
        constantsDecimals=5,
    )
    spectrum = es.Spectrum(size=512)
    mel_bands = _essentia_mel_bands()
    lin2db = _essentia_lin2db()
    frames = es.FrameGenerator(
        waveform, frameSize=512, hopSize=256, startFromZero=False, validFrameThresholdRatio=0, lastFrameToEndOfFile=False
    )
    return np.array([lin2db(mel_bands(spectrum(window(frame)))) for frame in frames], dtype=np.float32)


def music_like(seconds: float, seed: int = 0) -> np.ndarray:
    """Decaying harmonic notes (a chord progression) over noise-burst drums, 16 kHz, peak below 1."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    x = np.zeros(n)
    t = np.arange(16000) / 16000
    for k, f0 in enumerate([110.0, 220.0, 277.2, 329.6, 440.0, 392.0, 293.7, 587.3]):
        note = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h**1.5 for h in range(1, 15))
        start = min(n, int(k * 0.45 * 16000))
        stop = min(n, start + len(t))
        x[start:stop] += 0.15 * (note * np.exp(-3 * t))[: stop - start]
    for start in range(0, n - 2000, 3700):
        x[start : start + 2000] += 0.25 * rng.normal(size=2000) * np.exp(-np.arange(2000) / 250)
    return (x / (1.1 * np.abs(x).max())).astype(np.float32)


def _signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    t = np.arange(3 * 16000) / 16000
    return {
        "sine_440": 0.5 * np.sin(2 * np.pi * 440 * t),
        "sine_7900": 0.9 * np.sin(2 * np.pi * 7900 * t),
        "chirp": 0.8 * np.sin(2 * np.pi * (50 * t + 1300 * t**2)),
        "white_noise": 0.3 * rng.uniform(-1, 1, t.size),
        "quiet_noise": 1e-4 * rng.normal(size=10_000),
        "music_like": music_like(4.0),
        "odd_length": 0.5 * np.sin(2 * np.pi * 1000 * t[:12_345]),
    }


def assert_matches_essentia(waveform: np.ndarray) -> float:
    """Asserts the 0.1 dB agreement; returns the max |difference| over the compared values."""
    waveform = np.asarray(waveform, dtype=np.float32)
    expected = essentia_log_mel(waveform)
    actual = log_mel_spectrogram(waveform).numpy()
    assert actual.shape == expected.shape == (num_frames(len(waveform)), 48)
    above_floor = expected > FLOOR_DB
    above_round_off = expected > expected.max(axis=1, keepdims=True) - ROUND_OFF_RANGE_DB
    compared = above_floor & above_round_off
    assert compared.sum() >= len(expected) or not above_floor.any()  # not a vacuous comparison
    difference = np.abs(actual - expected)
    if compared.any():
        assert difference[compared].max() < 0.1
    # Elsewhere (floor, round-off) TF must agree that the value is negligible, with a 10 dB margin.
    negligible = np.maximum(expected.max(axis=1, keepdims=True) - ROUND_OFF_RANGE_DB + 10.0, FLOOR_DB)
    assert np.all(actual[~compared] <= np.broadcast_to(negligible, actual.shape)[~compared])
    return float(difference[compared].max()) if compared.any() else 0.0


def test_filterbank_equals_essentia_mel_bands():
    mel_bands = _essentia_mel_bands()
    probed = np.stack([mel_bands(row) for row in np.eye(257, dtype=np.float32)])  # (257 bins, 48 bands)
    weights = mel_filterbank()
    assert weights.shape == (257, 48)
    np.testing.assert_allclose(weights, probed, rtol=0, atol=2e-5 * probed.max())


@pytest.mark.parametrize("name", list(_signals()))
def test_log_mel_matches_essentia_on_synthetic_signals(name):
    assert_matches_essentia(_signals()[name])


@pytest.mark.parametrize("path", REAL_RECORDINGS, ids=os.path.basename)
def test_log_mel_matches_essentia_on_real_recordings(path):
    if not os.path.exists(path):
        pytest.skip(f"{path} (a recording shipped with CPython's test suite) is not installed")
    assert_matches_essentia(load_audio(path))


@pytest.mark.parametrize("n", [1, 255, 256, 257, 512, 16_000])
def test_frame_count_is_essentias(n):
    waveform = np.full(n, 0.1, dtype=np.float32)
    essentia_frames = len(list(es.FrameGenerator(
        waveform, frameSize=512, hopSize=256, startFromZero=False, validFrameThresholdRatio=0, lastFrameToEndOfFile=False
    )))
    assert num_frames(n) == essentia_frames == 1 + -(-n // 256)
    assert log_mel_spectrogram(waveform).shape == (essentia_frames, 48)


def test_db_conversion_is_essentias_lin2db_with_scale_2():
    power = np.concatenate([[0.0, 1e-12, 0.99e-10, 1e-10, 1.01e-10], np.logspace(-9, 3, 200)]).astype(np.float32)
    expected = _essentia_lin2db()(power)
    np.testing.assert_allclose(power_to_db(tf.constant(power)).numpy(), expected, rtol=0, atol=1e-3)
    assert expected[:3].tolist() == [FLOOR_DB] * 3  # Essentia's silence floor: every power below 1e-10


def test_silence_sits_on_the_floor():
    mel = log_mel_spectrogram(np.zeros(5000, np.float32)).numpy()
    assert mel.shape == (21, 48)
    np.testing.assert_array_equal(mel, np.full_like(mel, FLOOR_DB))
    assert log_mel_spectrogram(np.zeros(0, np.float32)).numpy().tolist() == [[FLOOR_DB] * 48]


def test_log_mel_traces_once_for_any_length():
    fn = tf.function(log_mel_spectrogram, input_signature=[tf.TensorSpec([None], tf.float32)])
    for n in (300, 4000):
        np.testing.assert_allclose(fn(music_like(n / 16000)).numpy(), log_mel_spectrogram(music_like(n / 16000)))
    assert fn.experimental_get_tracing_count() == 1
