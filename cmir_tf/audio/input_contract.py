"""The one input contract for audio, on every path: files (`load_audio`), HEAR, the SavedModel signatures.

A waveform is float samples at 16 kHz, full scale = 1. For every waveform given to cmir-tf:

- an empty sound (0 samples) is refused;
- NaN or inf samples are refused;
- a peak above `MAX_PEAK` (4) is refused with `PEAK_REFUSAL` (the same words in the signatures' in-graph
  check, `cmir_tf.export.input_checks`): such audio is integer-scaled (e.g. int16 values), not float audio;
- a peak between 1 and 4 (a float file beyond full scale, resampling ripple of a full-scale file aside) is
  passed through unchanged, never clipped, and files and HEAR sounds get a warning naming the source (the
  signatures pass it through without a warning: a graph has no console);
- a decoded file whose samples are all digital silence, or whose channels cancel to silence when averaged
  to mono (anti-phase stereo, R = -L), gets a warning; it is embedded as silence.

Warnings go to absl's logger (one line each); refusals are `AudioInputError`s (`ValueError`s).
"""

from __future__ import annotations

import numpy as np
from absl import logging

MAX_PEAK = 4.0
PEAK_REFUSAL = (f"waveform peak is above {MAX_PEAK:g}: pass float audio scaled to [-1, 1] "
                "(divide 16-bit integer samples by 32768)")
EMPTY_REFUSAL = "empty sound (0 samples): pass at least one sample"


class AudioInputError(ValueError):
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
    check_finite(samples, source)
    peak = float(np.max(np.abs(samples)))
    if peak > MAX_PEAK:
        raise AudioInputError(f"{source}: {PEAK_REFUSAL} (peak {peak:.4g})")
    if peak > 1.0:
        logging.warning("%s: peak %.3g is above full scale (1): passed through as it is, not clipped", source, peak)


def warn_if_silent(channels: np.ndarray, mono: np.ndarray, source: str) -> None:
    """Warns when the decoded `channels` (n, c) are all zero, or when their mean `mono` (n,) is although
    they are not (channels in anti-phase cancel)."""
    if np.any(mono):
        return
    if np.any(channels):
        logging.warning("%s: its channels cancel to digital silence when averaged to mono (anti-phase stereo, "
                        "R = -L?): embedded as silence", source)
    else:
        logging.warning("%s: decodes to digital silence (every sample is 0): embedded as silence", source)
