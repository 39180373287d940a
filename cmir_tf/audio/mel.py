"""The Melon / Essentia log-mel spectrogram in pure TensorFlow, so that it can live inside a SavedModel.

Recipe of Melon's `arena_mel` and of the paper's authors (Essentia, their `utils.py` `melspectrogram`), at 16 kHz:

- `FrameGenerator(frameSize=512, hopSize=256, startFromZero=False)`: frame `k` is centred on sample `256 k`
  (zeros before the start and after the end), and frames continue while they still overlap the signal,
  so `T = 1 + ceil(n / 256)` frames for `n` samples (`T = 1` for an empty waveform, where Essentia gives 0);
- `Windowing(type='hann', normalized=False, size=512, zeroPadding=0)`: the symmetric 512-point Hann window;
- `Spectrum(size=512)`: magnitude of the 512-point real FFT, 257 bins;
- `MelBands(numberBands=48, sampleRate=16000, lowFrequencyBound=0, highFrequencyBound=8000, inputSize=257,
  weighting='linear', normalize='unit_tri', warpingFormula='slaneyMel', type='power')`: triangles in Hz
  between edges equally spaced in Slaney mel, each divided by its area in Hz;
- `UnaryOperator(type='lin2db', scale=2, shift=0)`: `2 x 10 log10(x)`, where Essentia's `lin2db` maps every
  `x < 1e-10` (digital silence, also 0) to -100 dB, so the floor is -200 dB.

`FRONT_END_PARAMS` spells this recipe out; it is stored in every SavedModel's asset and compared with
`check_front_end` (`cmir_tf.audio.recipe`) when a model is opened (`cmir_tf.export.exported.ExportedModel`).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from cmir_tf.constants import FRAME_LENGTH, HOP_LENGTH, N_MELS, SAMPLE_RATE

N_BINS = FRAME_LENGTH // 2 + 1  # 257 spectrum bins, 31.25 Hz apart
LOW_HZ = 0.0
HIGH_HZ = SAMPLE_RATE / 2
SILENCE_CUTOFF = 1e-10  # Essentia's lin2db silence cutoff: band values below it map to the floor
FLOOR_DB = -200.0  # 2 x lin2db(SILENCE_CUTOFF)
# Bumped whenever the log-mel of some waveform changes. 1: MelBands weighting='warping' (before issue 11);
# 2: weighting='linear', the authors' recipe.
FRONT_END_VERSION = 2

FRONT_END_PARAMS = {
    "version": FRONT_END_VERSION,
    "sample_rate": SAMPLE_RATE,
    "frame_length": FRAME_LENGTH,
    "hop_length": HOP_LENGTH,
    "centered_frames": True,
    "n_frames": "1 + ceil(n_samples / 256)",
    "n_mels": N_MELS,
    "essentia": [
        f"FrameGenerator(frameSize={FRAME_LENGTH}, hopSize={HOP_LENGTH}, startFromZero=False)",
        f"Windowing(type='hann', normalized=False, size={FRAME_LENGTH}, zeroPadding=0)",
        f"Spectrum(size={FRAME_LENGTH})",
        f"MelBands(numberBands={N_MELS}, sampleRate={SAMPLE_RATE}, lowFrequencyBound={LOW_HZ:g}, "
        f"highFrequencyBound={HIGH_HZ:g}, inputSize={N_BINS}, weighting='linear', normalize='unit_tri', "
        "warpingFormula='slaneyMel', type='power')",
        "UnaryOperator(type='lin2db', scale=2, shift=0)",
    ],
    "floor_db": FLOOR_DB,
}


_SLANEY_HZ_PER_MEL = 200.0 / 3.0  # below 1 kHz
_SLANEY_LOG_HZ = 1000.0  # where the scale turns logarithmic
_SLANEY_LOG_MEL = _SLANEY_LOG_HZ / _SLANEY_HZ_PER_MEL  # 15 mel
_SLANEY_LOG_STEP = np.log(6.4) / 27.0  # ln(Hz ratio) per mel above 1 kHz


def slaney_hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's Auditory Toolbox mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    logarithmic = _SLANEY_LOG_MEL + np.log(np.maximum(hz, _SLANEY_LOG_HZ) / _SLANEY_LOG_HZ) / _SLANEY_LOG_STEP
    return np.where(hz >= _SLANEY_LOG_HZ, logarithmic, hz / _SLANEY_HZ_PER_MEL)


def slaney_mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Inverse of `slaney_hz_to_mel`."""
    mel = np.asarray(mel, dtype=np.float64)
    logarithmic = _SLANEY_LOG_HZ * np.exp(_SLANEY_LOG_STEP * (np.maximum(mel, _SLANEY_LOG_MEL) - _SLANEY_LOG_MEL))
    return np.where(mel >= _SLANEY_LOG_MEL, logarithmic, mel * _SLANEY_HZ_PER_MEL)


def mel_filterbank() -> np.ndarray:
    """Essentia's `MelBands` weights for the recipe above (`weighting='linear'`, `normalize='unit_tri'`).

    Band `i` is a triangle in Hz over edges `f[i] < f[i+1] < f[i+2]`, equally spaced in Slaney mel from 0 to
    8 kHz, evaluated at the spectrum bins (31.25 Hz apart) and divided by its area `(f[i+2] - f[i]) / 2` in Hz.
    The tests check it against `MelBands` itself.

    Returns:
      float32 (257 bins, 48 bands): `power_spectrum (T, 257) @ weights` gives Essentia's band energies.
    """
    edges = slaney_mel_to_hz(np.linspace(slaney_hz_to_mel(LOW_HZ), slaney_hz_to_mel(HIGH_HZ), N_MELS + 2))
    bin_hz = np.arange(N_BINS) * (SAMPLE_RATE / FRAME_LENGTH)
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]  # (48, 1) each
    rising = (bin_hz - low) / (centre - low)
    falling = (high - bin_hz) / (high - centre)
    triangles = np.clip(np.minimum(rising, falling), 0.0, None)  # (48, 257)
    return (triangles / ((high - low) / 2.0)).T.astype(np.float32)


def num_frames(n_samples: int | tf.Tensor) -> int | tf.Tensor:
    """Frames of a centred STFT that overlap `n_samples` samples: `1 + ceil(n / 256)` (int or int32 tensor)."""
    return -(-(n_samples + FRAME_LENGTH // 2) // HOP_LENGTH)


def power_to_db(x: tf.Tensor) -> tf.Tensor:
    """Essentia's `UnaryOperator(type='lin2db', scale=2)`: `20 log10(max(x, 1e-10))` in dB, floor -200 dB."""
    return tf.math.log(tf.maximum(x, SILENCE_CUTOFF)) * (20.0 / np.log(10.0))


def log_mel_spectrogram(waveform: tf.Tensor) -> tf.Tensor:
    """Melon's log-mel spectrogram of a 16 kHz mono waveform.

    Args:
      waveform: float32 (n,) samples in [-1, 1] at 16 kHz; `n` may be 0 or unknown at trace time.

    Returns:
      float32 (T, 48) mel-band power in dB (2 x Essentia `lin2db`, floor -200 dB), `T = 1 + ceil(n / 256)`,
      frame `k` centred at `256 k / 16000` s.
    """
    waveform = tf.convert_to_tensor(waveform, dtype=tf.float32)
    n = tf.shape(waveform)[0]
    t = num_frames(n)
    # Pad so that frame t-1 (centred on sample 256 (t-1)) is complete: (t-1) * hop + frame samples in all.
    right = (t - 1) * HOP_LENGTH + FRAME_LENGTH // 2 - n
    padded = tf.pad(waveform, [[FRAME_LENGTH // 2, right]])
    return frames_log_mel(tf.signal.frame(padded, FRAME_LENGTH, HOP_LENGTH))  # (T, 512) frames


def frames_log_mel(frames: tf.Tensor) -> tf.Tensor:
    """(T, 512) frames of samples -> (T, 48) log-mel in dB: Hann window, |rfft|^2, mel bands, `power_to_db`."""
    window = tf.signal.hann_window(FRAME_LENGTH, periodic=False, dtype=tf.float32)
    magnitude = tf.abs(tf.signal.rfft(frames * window))  # (T, 257)
    bands = tf.matmul(tf.square(magnitude), tf.constant(mel_filterbank()))  # (T, 48)
    return power_to_db(bands)
