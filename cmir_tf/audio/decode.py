"""Audio files to 16 kHz mono float32 waveforms (soundfile decoders, soxr resampling), under the input
contract of `cmir_tf.audio.input_contract`."""

from __future__ import annotations

import contextlib
import os
import re

import numpy as np
import soundfile as sf
import soxr

from cmir_tf.audio.input_contract import check_levels, warn_if_silent
from cmir_tf.constants import SAMPLE_RATE
from cmir_tf.runtime import fd2_lines_dropped

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".au", ".snd", ".aif", ".aiff", ".aifc", ".caf")
# What libmpg123 (inside libsndfile) prints on file descriptor 2 for damaged or truncated MP3s, e.g.
# "Note: Hit end of (available) data during resync." and "Warning: Xing stream size off by more than 1%".
DECODER_CHATTER = re.compile(r"^(Note|Warning|\[[^\]]*mpg123[^\]]*\])[: ]")


class AudioDecodeError(ValueError):
    """An audio file that cannot be decoded or holds no samples."""


def _read(path: str) -> tuple[np.ndarray, int]:
    """(n, channels) float32 samples and the rate; MP3s with the decoder's chatter kept off the console."""
    quiet = fd2_lines_dropped(DECODER_CHATTER) if path.lower().endswith(".mp3") else contextlib.nullcontext()
    with quiet:
        return sf.read(path, dtype="float32", always_2d=True)


def load_audio(path: str) -> np.ndarray:
    """Decodes an audio file to the encoder's input waveform.

    Every format libsndfile reads (wav, flac, ogg/vorbis/opus, mp3, au, aiff, ...) is accepted, at any bit
    depth and sample rate. Channels are averaged; other rates are resampled with soxr (high quality). Samples
    are not clipped: a float file with a peak between 1 and 4 is passed through with a warning, one above 4
    refused (only the resampler's overshoot of a file within [-1, 1] is cut back to it); an all-silent result is warned about (`cmir_tf.audio.input_contract`).

    Args:
      path: audio file.

    Returns:
      float32 (n,) mono samples at 16 kHz, n >= 1.

    Raises:
      FileNotFoundError: `path` does not exist.
      AudioDecodeError: the file is empty, not audio, or has no samples.
      AudioInputError (a ValueError): NaN or inf samples, or a peak above 4.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such audio file: {path}")
    if os.path.getsize(path) == 0:
        raise AudioDecodeError(f"{path}: empty file (0 bytes), not audio")
    try:
        data, rate = _read(path)
    except (RuntimeError, TypeError) as e:  # sf.LibsndfileError is a RuntimeError
        raise AudioDecodeError(f"{path}: cannot decode: not audio in a format libsndfile reads (wav, flac, ogg, "
                               "opus, mp3, au, aiff, caf), or a damaged file") from e
    if data.size == 0:
        raise AudioDecodeError(f"{path}: no audio samples")
    check_levels(data, path)
    waveform = data.mean(axis=1, dtype=np.float32)
    warn_if_silent(data, waveform, path)
    if rate != SAMPLE_RATE:
        resampled = soxr.resample(waveform, rate, SAMPLE_RATE, quality="HQ").astype(np.float32)
        # A file within [-1, 1] stays there: the resampler's ringing (about 1 % over a full-scale tone) is cut;
        # a louder float file keeps its level, as the contract says.
        within = np.abs(waveform).max() <= 1.0
        waveform = np.clip(resampled, -1.0, 1.0) if within else resampled
    return waveform
