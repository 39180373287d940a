"""The log-mel chunks of a waveform given in blocks: `chunk_mel(log_mel_spectrogram(waveform))` at bounded
memory, for recordings of any length.

`MelChunker` keeps only the samples of the frames not yet computed (plus the first chunk, which completes the
last one, `cmir_tf.audio.segments.CHUNK_PADDING`). It computes the log-mel `GROUP_CHUNKS` chunks at a time,
always with the same shapes at the same positions, so the chunks do not depend on how the waveform was cut
into blocks (bit for bit). The log-mel is `cmir_tf.audio.mel_numpy`'s, not TensorFlow's: these chunks are
made in threads beside a running model (it says why); it equals `log_mel_spectrogram`'s to float32 rounding.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from cmir_tf.audio.decode import AudioStream
from cmir_tf.audio.mel import num_frames
from cmir_tf.audio.mel_numpy import frame_samples, frames_log_mel
from cmir_tf.constants import CHUNK_FRAMES, FRAME_LENGTH, HOP_LENGTH

GROUP_CHUNKS = 4  # chunks computed per call (16.4 s of audio)
GROUP_FRAMES = GROUP_CHUNKS * CHUNK_FRAMES
GROUP_HOP = GROUP_FRAMES * HOP_LENGTH  # samples between the first frames of two groups
GROUP_SPAN = GROUP_HOP + FRAME_LENGTH - HOP_LENGTH  # padded samples a group's frames cover
LEFT_PAD = FRAME_LENGTH // 2  # frame k is centred on sample 256 k: zeros before the start


def group_log_mel(padded: np.ndarray) -> np.ndarray:
    """(GROUP_SPAN,) samples (the first one 256 samples before frame 0's centre) -> (GROUP_FRAMES, 48) dB."""
    return frames_log_mel(frame_samples(padded))


class MelChunker:
    """Feed 16 kHz blocks with `push`, then call `finish`; both yield float32 (k, 256, 48) log-mel chunks, in
    order, as `chunk_mel(log_mel_spectrogram(all samples))` cuts them (the last chunk completed with the first
    frames: a track shorter than a chunk is tiled)."""

    def __init__(self):
        self._samples = np.zeros(LEFT_PAD, np.float32)  # padded samples; the next group starts at `_offset`
        self._offset = 0
        self.n_samples = 0  # samples pushed
        self.frames_done = 0  # frames computed
        self._head: np.ndarray | None = None  # the first chunk's frames, (<= 256, 48)
        self._partial = np.zeros((0, 48), np.float32)  # frames of an incomplete chunk (finish only)

    def push(self, block: np.ndarray) -> Iterator[np.ndarray]:
        """Takes (n,) float32 samples; yields the chunks completed by them."""
        self._samples = np.concatenate([self._samples[self._offset:], np.asarray(block, np.float32)])
        self._offset = 0
        self.n_samples += len(block)
        while len(self._samples) - self._offset >= GROUP_SPAN:
            yield self._chunks(self._next_group(), GROUP_FRAMES)

    def finish(self) -> Iterator[np.ndarray]:
        """Yields the remaining chunks: the frames up to `num_frames(n_samples)`, the last chunk wrapped."""
        total = num_frames(self.n_samples)
        while self.frames_done < total:
            take = min(GROUP_FRAMES, total - self.frames_done)
            frames = self._next_group()[:take]
            whole = take - take % CHUNK_FRAMES
            if whole:
                yield self._chunks(frames[:whole], whole)
            if take % CHUNK_FRAMES:
                yield self._wrapped(frames[whole:], total)

    def _next_group(self) -> np.ndarray:
        """(GROUP_FRAMES, 48) log-mel of the next group (zeros after the last sample); drops its samples."""
        padded = self._samples[self._offset : self._offset + GROUP_SPAN]
        if len(padded) < GROUP_SPAN:
            padded = np.pad(padded, (0, GROUP_SPAN - len(padded)))
        self._offset += GROUP_HOP
        frames = group_log_mel(padded)
        if self._head is None:
            self._head = frames[:CHUNK_FRAMES]
        self.frames_done += GROUP_FRAMES
        return frames

    @staticmethod
    def _chunks(frames: np.ndarray, n_frames: int) -> np.ndarray:
        return frames[:n_frames].reshape(n_frames // CHUNK_FRAMES, CHUNK_FRAMES, frames.shape[1])

    def _wrapped(self, frames: np.ndarray, total: int) -> np.ndarray:
        """(1, 256, 48): the last `frames` (< 256) completed with the track's first frames, tiled if needed."""
        head = self._head[: min(total, CHUNK_FRAMES)]
        fill = head[np.arange(CHUNK_FRAMES - len(frames)) % len(head)]
        return np.concatenate([frames, fill])[None]


def chunks_of_blocks(blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    """(k, 256, 48) log-mel chunks of the 16 kHz waveform given as `blocks`; returns (as the generator's
    value) the number of samples."""
    chunker = MelChunker()
    for block in blocks:
        yield from chunker.push(block)
    yield from chunker.finish()
    return chunker.n_samples


def file_chunks(path: str, segment: str = "full") -> Iterator[np.ndarray]:
    """(k, 256, 48) log-mel chunks of an audio file (or its `segment`), decoded in blocks (`AudioStream`);
    returns (as the generator's value) the `AudioStream`, whose `decoder`, `start` and `n_samples` are final."""
    stream = AudioStream(path, segment)
    yield from chunks_of_blocks(iter(stream))
    return stream
