"""Audio files to blocks of samples at the file's own rate: libsndfile (soundfile) first, FFmpeg (PyAV, whose
wheels carry FFmpeg) for what libsndfile cannot open or read.

libsndfile reads WAV, FLAC, Ogg Vorbis/Opus, MP3, AU, AIFF and CAF; FFmpeg adds AAC and ALAC in `.m4a`/`.mp4`,
WMA, WebM and Matroska (Opus, Vorbis), AC-3 and E-AC-3, WavPack, Monkey's Audio, TTA and MP2, and takes over
any file libsndfile refuses or fails on at its first block (e.g. Opus files it calls malformed).

A `Source` yields (n, channels) float32 blocks, full scale = 1, and names the decoder that read it (recorded
with the file's embedding). Integer samples are converted as libsndfile converts them (divided by 2^15 for 16
bits, 2^31 for 32), so a WAV, its FLAC and its ALAC copies give bit-identical blocks.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from collections.abc import Iterator

import numpy as np
import soundfile as sf

from cmir_tf import errors
from cmir_tf.runtime import fd2_lines_dropped

SOUNDFILE_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".au", ".snd", ".aif", ".aiff", ".aifc",
                        ".caf")
FFMPEG_EXTENSIONS = (".m4a", ".m4b", ".mp4", ".aac", ".wma", ".webm", ".mka", ".ac3", ".eac3", ".wv", ".ape", ".tta",
                     ".mp2")
BLOCK_FRAMES = 1 << 16  # samples per channel read at a time from libsndfile
# What libmpg123 (inside libsndfile) prints on file descriptor 2 for damaged or truncated MP3s, e.g.
# "Note: Hit end of (available) data during resync." and "Warning: Xing stream size off by more than 1%".
DECODER_CHATTER = re.compile(r"^(Note|Warning|\[[^\]]*mpg123[^\]]*\])[: ]")
# libsndfile subtypes and FFmpeg codecs whose decoders output float samples that may overshoot full scale.
LOSSY_SUBTYPES = ("VORBIS", "OPUS", "MPEG_LAYER_I", "MPEG_LAYER_II", "MPEG_LAYER_III", "GSM610", "G721_32",
                  "G723_24", "G723_40", "NMS_ADPCM_16", "NMS_ADPCM_24", "NMS_ADPCM_32", "IMA_ADPCM", "MS_ADPCM",
                  "VOX_ADPCM")
LOSSLESS_CODECS = ("flac", "alac", "wavpack", "ape", "tta", "mlp", "truehd", "wmalossless", "tak")
_INTEGER_SCALE = {"u8": None, "s16": 2.0 ** 15, "s32": 2.0 ** 31}  # FFmpeg sample formats -> full scale


class DecoderError(errors.InputError, RuntimeError):
    """A file neither decoder can open or read."""


@dataclasses.dataclass
class Source:
    """An opened audio file.

    Attributes:
      rate: samples per second per channel.
      channels: channel count.
      decoder: which decoder read it, e.g. "libsndfile:FLAC/PCM_16" or "ffmpeg:alac".
      integer: the samples are integers (PCM, lossless codecs): within [-1, 1] by construction.
      lossy: a lossy codec's decoder, whose float output overshoots full scale a little on loud masters.
      blocks: (n, channels) float32 blocks, in order, n >= 1 (not always C-contiguous: FFmpeg's planar
        samples come as a transposed view).
    """

    rate: int
    channels: int
    decoder: str
    integer: bool
    lossy: bool
    blocks: Iterator[np.ndarray]


def _quiet(path: str) -> contextlib.AbstractContextManager:
    """libmpg123's chatter kept off the console while an MP3 is read."""
    return fd2_lines_dropped(DECODER_CHATTER) if path.lower().endswith(".mp3") else contextlib.nullcontext()


def _read_block(handle: sf.SoundFile, path: str) -> np.ndarray:
    """The next (<= BLOCK_FRAMES, channels) float32 block. 16-bit PCM is read as integers and scaled here:
    the same floats as libsndfile's conversion (x / 2^15, exact) at a seventh of its cost."""
    with _quiet(path):
        if handle.subtype != "PCM_16":
            return handle.read(BLOCK_FRAMES, dtype="float32", always_2d=True)
        block = handle.read(BLOCK_FRAMES, dtype="int16", always_2d=True)
    return block * np.float32(1.0 / 2**15)


def _soundfile_blocks(handle: sf.SoundFile, first: np.ndarray, path: str) -> Iterator[np.ndarray]:
    with handle:
        block = first
        while len(block):
            yield block
            block = _read_block(handle, path)


def open_soundfile(path: str) -> Source:
    """`path` through libsndfile; its first block is read here, so that a file it fails on fails now.
    Raises `DecoderError` (with libsndfile's reason) when it cannot."""
    try:
        with _quiet(path):
            handle = sf.SoundFile(path)
    except (RuntimeError, TypeError) as e:  # sf.LibsndfileError is a RuntimeError
        raise DecoderError(f"libsndfile: {e}") from e
    try:
        first = _read_block(handle, path)
    except (RuntimeError, TypeError) as e:
        handle.close()
        raise DecoderError(f"libsndfile: {e}") from e
    subtype = handle.subtype
    return Source(handle.samplerate, handle.channels, f"libsndfile:{handle.format}/{subtype}",
                  integer=subtype.startswith(("PCM", "ALAC")) or subtype in ("ULAW", "ALAW"),
                  lossy=subtype in LOSSY_SUBTYPES, blocks=_soundfile_blocks(handle, first, path))


def _as_float(samples: list[np.ndarray], layout: tuple[str, bool, int]) -> np.ndarray:
    """The samples of consecutive PyAV audio frames (their `to_ndarray()`s) of one `layout` (sample format,
    planar, channels) -> (n, channels) float32, integers scaled as libsndfile scales them; for planar formats
    (most codecs) a transposed view, not a copy (interleaving the channels cost more than AAC's decoding)."""
    name, planar, channels = layout
    data = np.concatenate(samples, axis=1)  # planar (channels, n); packed (1, n * channels)
    data = data if planar else data.reshape(-1, channels).T
    if name == "u8":
        return ((data.astype(np.float32) - 128.0) / 128.0).T
    data = data.astype(np.float32, copy=False)  # a new array already: `np.concatenate`'s
    scale = _INTEGER_SCALE.get(name)
    if scale is not None:  # exact: a power of two times an integer of at most 24 significant bits
        data *= np.float32(1.0 / scale)
    return data.T


def _reason(error: Exception) -> str:
    """FFmpeg's words for `error`, without the path (the caller names it)."""
    return getattr(error, "strerror", None) or str(error)


def _ffmpeg_blocks(container, stream) -> Iterator[np.ndarray]:
    """FFmpeg's frames (about 1,000 samples each) gathered into blocks of about BLOCK_FRAMES and converted a
    block at a time (per frame, the conversion cost more than AAC's decoding)."""
    import av  # noqa: PLC0415 - FFmpeg is loaded only for the files that need it

    with container:
        samples, count, key, layout = [], 0, None, None  # a block's frames, their samples per channel, layout
        try:
            for frame in container.decode(stream):
                if not frame.samples:
                    continue
                if (frame.format.name, frame.layout.name) != key:  # a stream may change format or channels
                    if samples:
                        yield _as_float(samples, layout)
                        samples, count = [], 0
                    key = (frame.format.name, frame.layout.name)
                    layout = (frame.format.name.rstrip("p"), frame.format.is_planar, len(frame.layout.channels))
                samples.append(frame.to_ndarray())
                count += frame.samples
                if count >= BLOCK_FRAMES:
                    yield _as_float(samples, layout)
                    samples, count = [], 0
        except av.FFmpegError as e:
            raise DecoderError(f"FFmpeg: {_reason(e)}") from e
        if samples:
            yield _as_float(samples, layout)


def open_ffmpeg(path: str) -> Source:
    """`path` through FFmpeg (PyAV): its first audio stream. Raises `DecoderError` when it cannot open it."""
    import av  # noqa: PLC0415

    try:
        container = av.open(path)
    except (av.FFmpegError, UnicodeDecodeError) as e:
        raise DecoderError(f"FFmpeg: {_reason(e)}") from e
    if not container.streams.audio:
        container.close()
        raise DecoderError("FFmpeg: no audio stream")
    stream = container.streams.audio[0]
    codec = stream.codec_context
    codec.thread_count = 1  # files are decoded in parallel already; FFmpeg's frame threads (ALAC) cost 15 % more CPU
    sample_format = codec.format.name.rstrip("p") if codec.format is not None else ""
    return Source(codec.sample_rate, codec.channels, f"ffmpeg:{codec.name}",
                  integer=codec.name.startswith("pcm_") or sample_format in _INTEGER_SCALE,
                  lossy=not (codec.name.startswith("pcm_") or codec.name in LOSSLESS_CODECS),
                  blocks=_ffmpeg_blocks(container, stream))


def open_source(path: str) -> Source:
    """`path` through libsndfile, else through FFmpeg; raises FFmpeg's `DecoderError` when neither can
    (libsndfile's reasons are often misleading: "not a regular file (possibly a pipe?)" for a text file)."""
    try:
        return open_soundfile(path)
    except DecoderError:
        return open_ffmpeg(path)
