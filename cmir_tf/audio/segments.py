"""Which part of a track is embedded, and how a log-mel track is cut into encoder-sized chunks."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from cmir_tf.constants import CHUNK_FRAMES, HOP_LENGTH, N_MELS, SAMPLE_RATE, SEGMENT_SECONDS

SEGMENT_MODES = ("center29.1", "full")
CHUNK_PADDING = "wrap"  # the last chunk is completed with the track's first frames (np.pad mode="wrap")


def select_segment(waveform: np.ndarray, mode: str) -> np.ndarray:
    """The part of a 16 kHz waveform to embed.

    Args:
      waveform: (n,) samples at 16 kHz.
      mode: "full" (everything) or "center29.1" (the centred 29.1 s = 465,600 samples the authors used
        downstream; the whole waveform when it is shorter).

    Returns:
      A (m,) slice of `waveform`.
    """
    if mode == "full":
        return waveform
    start, stop = segment_bounds(len(waveform), mode)
    return waveform[start:stop]


def segment_bounds(n_samples: int, mode: str) -> tuple[int, int]:
    """[start, stop) of `select_segment(waveform, mode)` in a waveform of `n_samples` samples at 16 kHz."""
    if mode == "full":
        return 0, n_samples
    if mode == "center29.1":
        length = round(SEGMENT_SECONDS * SAMPLE_RATE)
        start = max(0, (n_samples - length) // 2)
        return start, min(n_samples, start + length)
    raise ValueError(f"segment mode must be one of {SEGMENT_MODES}, got {mode!r}")


def chunk_mel(mel: tf.Tensor) -> tf.Tensor:
    """Cuts a log-mel track into non-overlapping encoder inputs.

    Chunk `i` holds frames `256 i ... 256 i + 255`. The last chunk is completed by wrapping around to the
    track's first frames, so a track shorter than a chunk is tiled and no artificial silence enters the
    chunk mean.

    Args:
      mel: float32 (T, 48), T >= 1.

    Returns:
      float32 (ceil(T / 256), 256, 48).
    """
    mel = tf.convert_to_tensor(mel, dtype=tf.float32)
    frames = tf.shape(mel)[0]
    check = tf.debugging.assert_positive(frames, message="chunk_mel needs a log-mel with at least one frame")
    with tf.control_dependencies([check]):
        n_chunks = (frames + CHUNK_FRAMES - 1) // CHUNK_FRAMES
    wrapped = tf.gather(mel, tf.range(n_chunks * CHUNK_FRAMES) % frames)
    return tf.reshape(wrapped, [n_chunks, CHUNK_FRAMES, N_MELS])


def chunk_centers_ms(n_frames: int | tf.Tensor) -> tf.Tensor:
    """float32 (ceil(n_frames / 256),) chunk centres in ms, inside the track: frame `k` is centred at `256 k`
    samples (16 k ms) and chunk `i` covers frames `256 i ... min(256 i + 255, n_frames - 1)`, so a full chunk
    is centred at `(256 i + 127.5) * 16` ms and the last one at the middle of the frames it really holds
    (not of the frames wrapped in from the track's start)."""
    frame_ms = 1000.0 * HOP_LENGTH / SAMPLE_RATE
    n_frames = tf.cast(n_frames, tf.int32)
    first = tf.range((n_frames + CHUNK_FRAMES - 1) // CHUNK_FRAMES) * CHUNK_FRAMES
    last = tf.minimum(first + CHUNK_FRAMES - 1, n_frames - 1)
    return tf.cast(first + last, tf.float32) * (frame_ms / 2)
