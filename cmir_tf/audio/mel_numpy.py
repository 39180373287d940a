"""The log-mel of `cmir_tf.audio.mel` computed without TensorFlow, for the threads that decode files beside a
running model (`cmir_tf.audio.chunker`, used by cmir-embed and `JointSpace.embed_files`).

Same recipe, same float32 steps (symmetric Hann window, |rfft|^2, Essentia's `MelBands` weights, `2 x lin2db`).
The values equal TensorFlow's to float32 rounding (tests/test_streaming.py: within 1e-4 dB plus 1e-5 of the
value on music, noise and near-silence), except in bands some 190 dB below a frame's loudest, where both FFTs
give rounding noise (a pure tone's far bands differ by up to 0.07 dB there).

Why not TensorFlow's ops: a log-mel op called from a decoder thread runs on TensorFlow's intra-op pool, whose
threads then spin for more work while the thread decodes: decoding, resampling and the TensorFlow log-mel of
a file took about twice the CPU of the same without TensorFlow (benchmarks/bench_embed_library.py), CPU the
model needs. Why not numpy's own: its matmul calls OpenBLAS, whose threads spin the same way, and its FFT is
4.6 times slower than scipy.fft's in float32. Here the FFT is scipy.fft's (one thread) and the 48 bands a
sparse product (494 weights): about 0.4 ms of CPU a 4.1 s chunk.
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import scipy.sparse

from cmir_tf.audio.mel import SILENCE_CUTOFF, mel_filterbank
from cmir_tf.constants import FRAME_LENGTH, HOP_LENGTH

WINDOW = np.hanning(FRAME_LENGTH).astype(np.float32)  # symmetric, as tf.signal.hann_window(periodic=False)
BANDS = scipy.sparse.csr_matrix(mel_filterbank().T)  # (48 bands, 257 bins)
DB_PER_LOG = np.float32(20.0 / np.log(10.0))


def frame_samples(padded: np.ndarray) -> np.ndarray:
    """(n,) samples -> (1 + (n - 512) // 256, 512) overlapping frames, a view (no copy)."""
    return np.lib.stride_tricks.sliding_window_view(padded, FRAME_LENGTH)[::HOP_LENGTH]


def frames_log_mel(frames: np.ndarray) -> np.ndarray:
    """(T, 512) float32 frames of 16 kHz samples -> (T, 48) float32 log-mel in dB (floor -200 dB), as
    `cmir_tf.audio.mel.frames_log_mel`."""
    spectrum = scipy.fft.rfft(frames * WINDOW, axis=-1)  # (T, 257) complex64
    power = np.square(spectrum.real) + np.square(spectrum.imag)
    bands = (BANDS @ power.T).T  # (T, 48)
    return (np.log(np.maximum(bands, np.float32(SILENCE_CUTOFF))) * DB_PER_LOG).astype(np.float32, copy=False)
