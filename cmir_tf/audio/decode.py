"""Audio files to 16 kHz mono float32 waveforms (soundfile decoders, soxr resampling)."""

from __future__ import annotations

import os

import numpy as np
import soundfile as sf
import soxr

from cmir_tf.constants import SAMPLE_RATE

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".au", ".snd", ".aif", ".aiff", ".aifc", ".caf")


class AudioDecodeError(ValueError):
    """An audio file that cannot be decoded or holds no samples."""


def check_finite(waveform: np.ndarray, source: str = "waveform") -> None:
    """Raises `ValueError` naming `source` and the first offending sample when `waveform` has NaN or inf."""
    bad = np.flatnonzero(~np.isfinite(waveform))
    if bad.size:
        raise ValueError(f"{source}: {bad.size} NaN or inf samples (first at index {bad[0]})")


def load_audio(path: str) -> np.ndarray:
    """Decodes an audio file to the encoder's input waveform.

    Every format libsndfile reads (wav, flac, ogg/vorbis/opus, mp3, au, aiff, ...) is accepted, at any bit
    depth and sample rate. Channels are averaged; other rates are resampled with soxr (high quality);
    the result is clipped to [-1, 1] (float files and resampling ripple may exceed it slightly).

    Args:
      path: audio file.

    Returns:
      float32 (n,) mono samples at 16 kHz in [-1, 1], n >= 1.

    Raises:
      FileNotFoundError: `path` does not exist.
      AudioDecodeError: the file is empty, not audio, or has no samples.
      ValueError: the decoded samples contain NaN or inf.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such audio file: {path}")
    try:
        data, rate = sf.read(path, dtype="float32", always_2d=True)  # (n, channels)
    except (RuntimeError, TypeError) as e:  # sf.LibsndfileError is a RuntimeError
        raise AudioDecodeError(f"{path}: cannot decode audio ({e})") from e
    if data.size == 0:
        raise AudioDecodeError(f"{path}: no audio samples")
    check_finite(data, path)
    waveform = data.mean(axis=1, dtype=np.float32)
    if rate != SAMPLE_RATE:
        waveform = soxr.resample(waveform, rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
    return np.clip(waveform, -1.0, 1.0)
