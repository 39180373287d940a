"""Audio files to 16 kHz mono float32 waveforms, in blocks (bounded memory for any length) or whole, under the
input contract of `cmir_tf.audio.input_contract`.

`AudioStream(path, segment)` decodes (`cmir_tf.audio.decoders`: libsndfile, else FFmpeg), averages the channels
and resamples with soxr's streaming resampler block by block; its blocks joined are exactly `load_audio(path)`
(soxr's stream gives the same samples however the input is cut, and the same as its one-shot `resample`).
Memory stays at a few blocks whatever the file's length.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import numpy as np
import soxr

from cmir_tf import errors
from cmir_tf.audio.decoders import FFMPEG_EXTENSIONS, SOUNDFILE_EXTENSIONS, DecoderError, Source, open_source
from cmir_tf.audio.input_contract import LOSSY_PEAK, checked_peak, warn_if_loud, warn_if_silent
from cmir_tf.audio.segments import segment_bounds
from cmir_tf.constants import SAMPLE_RATE

AUDIO_EXTENSIONS = SOUNDFILE_EXTENSIONS + FFMPEG_EXTENSIONS  # what the file walkers take as audio


class AudioDecodeError(errors.InputError, ValueError):
    """An audio file that cannot be decoded or holds no samples."""


def _mono(data: np.ndarray) -> np.ndarray:
    """(n, channels) -> (n,) float32 channel mean: channels summed in order, then divided by their count."""
    mono = data[:, 0].copy()
    for channel in range(1, data.shape[1]):
        mono += data[:, channel]
    if data.shape[1] > 1:
        mono /= np.float32(data.shape[1])
    return mono


def resampled_length(n: int, rate: int) -> int:
    """Samples soxr gives at 16 kHz for `n` samples at `rate` (its stream and one-shot alike): n * 16000 / rate
    rounded half up."""
    return n if rate == SAMPLE_RATE else (2 * n * SAMPLE_RATE + rate) // (2 * rate)


@dataclasses.dataclass
class AudioStream:
    """An audio file decoded to 16 kHz mono in blocks: iterate it for float32 (n,) blocks, n >= 1, whose
    concatenation is the file's waveform (or its `segment`, `cmir_tf.audio.segments.SEGMENT_MODES`).

    Channels are averaged; other rates are resampled with soxr (high quality). Samples are not clipped: a float
    file with a peak between 1 and 4 is passed through with a warning, one above 4 refused; only the resampler's
    ringing beyond full scale of a file with integer samples (within [-1, 1] by construction) is cut back to it.
    A file that decodes to silence is warned about (`cmir_tf.audio.input_contract`).

    Attributes (after `open`): `decoder` (e.g. "libsndfile:WAV/PCM_16", "ffmpeg:aac"), `start` (the first
    sample's index in the whole file at 16 kHz: 0 unless a centred segment), `n_samples` (samples yielded so
    far: the waveform's length once the iteration ended).

    Raises (when opened or iterated):
      FileNotFoundError: `path` does not exist.
      AudioDecodeError: the file is empty, not audio, damaged, or has no samples.
      AudioInputError: NaN or inf samples, or a peak above 4.
    """

    path: str
    segment: str = "full"
    decoder: str = ""
    start: int = 0
    n_samples: int = 0

    def _open(self) -> Source:
        if not os.path.isfile(self.path):
            raise FileNotFoundError(f"no such audio file: {self.path}")
        if os.path.getsize(self.path) == 0:
            raise AudioDecodeError(f"{self.path}: empty file (0 bytes), not audio")
        try:
            return open_source(self.path)
        except DecoderError as e:
            raise AudioDecodeError(f"{self.path}: cannot decode: not audio in a format libsndfile or FFmpeg reads, "
                                   f"or a damaged file ({e})") from e

    def _native_blocks(self, source: Source) -> Iterator[np.ndarray]:
        try:
            yield from source.blocks
        except DecoderError as e:
            raise AudioDecodeError(f"{self.path}: damaged audio: {e}") from e

    def _bounds(self) -> tuple[int, int | None]:
        """[start, stop) at 16 kHz of the samples to yield (stop None: to the end); a centred segment counts the
        file's samples first (one decoding pass without resampling)."""
        if self.segment == "full":
            return 0, None
        source = self._open()
        total = sum(len(block) for block in self._native_blocks(source))
        return segment_bounds(resampled_length(total, source.rate), self.segment)

    def __iter__(self) -> Iterator[np.ndarray]:
        self.start, stop = self._bounds()
        source = self._open()
        self.decoder, self.n_samples = source.decoder, 0
        resampler = None if source.rate == SAMPLE_RATE else soxr.ResampleStream(
            source.rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        peak, sounding, mono_sounding, position = 0.0, False, False, 0  # position: 16 kHz samples decoded so far
        blocks = self._native_blocks(source)
        for data in blocks:
            peak = max(peak, checked_peak(data, self.path))
            mono = _mono(data)
            sounding, mono_sounding = sounding or bool(np.any(data)), mono_sounding or bool(np.any(mono))
            if resampler is not None:
                mono = resampler.resample_chunk(mono)
                mono = np.clip(mono, -1.0, 1.0) if source.integer else mono
            yield from self._kept(mono, position, stop)
            position += len(mono)
            if stop is not None and position >= stop:
                blocks.close()
                break
        else:
            if resampler is not None:
                tail = resampler.resample_chunk(np.zeros(0, np.float32), last=True)
                yield from self._kept(np.clip(tail, -1.0, 1.0) if source.integer else tail, position, stop)
        if self.n_samples == 0:
            raise AudioDecodeError(f"{self.path}: no audio samples")
        warn_if_loud(peak, self.path, LOSSY_PEAK if source.lossy else 1.0)
        warn_if_silent(sounding, mono_sounding, self.path)

    def _kept(self, block: np.ndarray, position: int, stop: int | None) -> Iterator[np.ndarray]:
        """The part of `block` (16 kHz samples from `position` on) inside [start, stop), if any."""
        part = block[max(0, self.start - position): None if stop is None else max(0, stop - position)]
        if len(part):
            self.n_samples += len(part)
            yield np.ascontiguousarray(part, dtype=np.float32)


def load_audio(path: str, segment: str = "full") -> np.ndarray:
    """Decodes an audio file (any format `cmir_tf.audio.decoders` reads, any bit depth and rate) to the
    encoder's input waveform, as `AudioStream` says (its blocks joined).

    Args:
      path: audio file.
      segment: "full" or "center29.1" (`cmir_tf.audio.segments.select_segment`).

    Returns:
      float32 (n,) mono samples at 16 kHz, n >= 1.

    Raises:
      FileNotFoundError: `path` does not exist.
      AudioDecodeError: the file is empty, not audio, or has no samples.
      AudioInputError (a ValueError): NaN or inf samples, or a peak above 4.
    """
    return np.concatenate(list(AudioStream(path, segment)))
