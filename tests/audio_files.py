"""Audio files of every format made at test time with PyAV (FFmpeg's encoders): nothing large in git."""

from __future__ import annotations

import av
import numpy as np

# extension -> (container format, codec, sample format fed to the encoder, encoder options)
FORMATS = {
    "m4a": ("mp4", "aac", "fltp", {}),
    "alac.m4a": ("mp4", "alac", "s16p", {}),
    "mp4": ("mp4", "aac", "fltp", {}),
    "wma": ("asf", "wmav2", "fltp", {}),
    "webm": ("webm", "libopus", "s16", {}),
    "mka": ("matroska", "vorbis", "fltp", {"strict": "experimental"}),
    "ac3": ("ac3", "ac3", "fltp", {}),
}


def music(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """(n, 2) int16 "real-like" stereo music: a decaying harmonic note every 0.25 s, panned, over noise bursts
    (time and memory linear in `seconds`)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    out = np.zeros((n, 2))
    t = np.arange(rate) / rate  # one second: a note's length
    for start in range(0, n, rate // 4):
        hz = 110 * 2 ** (rng.integers(0, 24) / 12)
        note = sum(np.sin(2 * np.pi * hz * k * t) / k for k in range(1, 5)) * np.exp(-t * 6)
        pan = rng.uniform(0.2, 0.8)
        span = min(rate, n - start)
        out[start : start + span] += 0.2 * np.outer(note[:span], [pan, 1 - pan])
    out += 0.02 * rng.standard_normal(out.shape) * (np.sin(2 * np.pi * 2 * np.arange(n) / rate)[:, None] > 0.9)
    return (np.clip(out, -1, 1) * 32767).astype(np.int16)


def write(path: str, pcm: np.ndarray, rate: int, kind: str) -> str:
    """Encodes (n, 2) int16 `pcm` at `rate` into `path` as `FORMATS[kind]`; returns `path`."""
    container_format, codec, sample_format, options = FORMATS[kind]
    with av.open(path, "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.layout = "stereo"
        stream.format = sample_format
        if codec == "wmav2":
            stream.bit_rate = 128_000
        stream.codec_context.options = options
        data = pcm if sample_format.startswith("s16") else pcm.astype(np.float32) / 32768
        for i in range(0, len(data), 1024):
            block = data[i : i + 1024]
            array = block.T.copy() if sample_format.endswith("p") else block.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(array), format=sample_format, layout="stereo")
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path
