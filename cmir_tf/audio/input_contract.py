"""The one input contract for audio, on every path: files (`load_audio`), HEAR, the SavedModel signatures.

A waveform is float samples at 16 kHz, full scale = 1. For every waveform given to cmir-tf:

- an empty sound (0 samples) is refused;
- NaN or inf samples are refused;
- a peak above `MAX_PEAK` (4) is refused with `PEAK_REFUSAL` (the same words in the signatures' in-graph
  check, `cmir_tf.export.input_checks`): such audio is integer-scaled (e.g. int16 values), not float audio;
- a peak between 1 and 4 (a float file beyond full scale, resampling ripple of a full-scale file aside) is
  passed through unchanged, never clipped, and files and HEAR sounds get a warning naming the source and the
  peak to 4 digits (the signatures pass it through without a warning: a graph has no console); a lossy
  codec's decoder (MP3, AAC, Vorbis, Opus, ...) overshoots full scale on loud masters (the waveform it
  rebuilds is not the clipped one it was given), so a decoded lossy file warns only above `LOSSY_PEAK` (+1 dB);
- a decoded file whose samples are all digital silence, or whose channels cancel to silence when averaged
  to mono (anti-phase stereo, R = -L), gets a warning; it is embedded as silence.

Warnings go to absl's logger (one line each); refusals are `AudioInputError`s (`cmir_tf.errors.InputError`s and `ValueError`s).
"""

from __future__ import annotations

import numpy as np
from absl import logging

from cmir_tf import errors

MAX_PEAK = 4.0
LOSSY_PEAK = 10 ** (1 / 20)  # +1 dB (1.122): a lossy decoder's overshoot of a full-scale master up to it is normal
PEAK_REFUSAL = (f"waveform peak is above {MAX_PEAK:g}: pass float audio scaled to [-1, 1] "
                "(divide 16-bit integer samples by 32768)")
EMPTY_REFUSAL = "empty sound (0 samples): pass at least one sample"


class AudioInputError(errors.InputError, ValueError):
    """A waveform that breaks the input contract (module docstring)."""


def check_finite(waveform: np.ndarray, source: str = "waveform") -> None:
    """Raises `AudioInputError` naming `source` and the first offending sample when `waveform` has NaN or inf."""
    bad = np.flatnonzero(~np.isfinite(waveform))
    if bad.size:
        raise AudioInputError(f"{source}: {bad.size} NaN or inf samples (first at index {bad[0]})")


def check_levels(samples: np.ndarray, source: str) -> None:
    """Applies the contract to `samples` (any shape: (n,) mono or (n, channels)): raises `AudioInputError`
    for an empty sound, NaN/inf or a peak above 4, warns for a peak above 1."""
    samples = np.asarray(samples)
    if samples.size == 0:
        raise AudioInputError(f"{source}: {EMPTY_REFUSAL}")
    warn_if_loud(checked_peak(samples, source), source)


def checked_peak(samples: np.ndarray, source: str) -> float:
    """The peak |sample| of non-empty `samples` (a whole sound or one block of a file); raises
    `AudioInputError` for NaN/inf or a peak above 4."""
    check_finite(samples, source)
    peak = float(np.max(np.abs(samples)))
    if peak > MAX_PEAK:
        raise AudioInputError(f"{source}: {PEAK_REFUSAL} (peak {peak:.4g})")
    return peak


def warn_if_loud(peak: float, source: str, tolerance: float = 1.0) -> None:
    """Warns, with the peak to 4 digits, when `peak` is above `tolerance` (1: full scale; `LOSSY_PEAK` for a
    lossy decoder's output)."""
    if peak > tolerance:
        logging.warning("%s: peak %.4g is above full scale (1): passed through as it is, not clipped", source, peak)


def warn_if_silent(sounding: bool, mono_sounding: bool, source: str) -> None:
    """Warns when a decoded file's channels are all zero (`sounding` False), or when their mean is although
    they are not (`mono_sounding` False: channels in anti-phase cancel)."""
    if mono_sounding:
        return
    if sounding:
        logging.warning("%s: its channels cancel to digital silence when averaged to mono (anti-phase stereo, "
                        "R = -L?): embedded as silence", source)
    else:
        logging.warning("%s: decodes to digital silence (every sample is 0): embedded as silence", source)
