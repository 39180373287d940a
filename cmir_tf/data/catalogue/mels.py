"""A catalogue's log-mels: the package's front end (`cmir_tf.audio`, the one inside every SavedModel) on a
30-second window of each track, computed in worker processes and cached per file.

Window: Melon's `arena_mel` covers 20-50 s of each song, so a track of at least 50 s gives its 20-50 s; a
shorter one its last 30 s (from max(0, duration - 30 s)); a track under 30 s is taken whole (under 4.1 s it is
padded or dropped later, as Melon's short mels are: `--short`). 30 s is 1,876 frames.

Cache: one `.npy` per track, (48, T) float16 dB as Melon's mels, named by the sha256 of the file's path
(relative to the audio folder), size and mtime (ns): a file changed in place, or renamed, is computed again; an
unchanged one never is, whatever folder is prepared from it (`--mel_cache_dir` can be shared). Beside it,
`<name>.sha256` holds the sha256 of the mel's bytes (what duplicates are found by), so that a rerun reads no
mel. Each file is written under a temporary name and renamed, so a killed run leaves only finished files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing
import os

import numpy as np
from tqdm import tqdm

from cmir_tf.constants import N_MELS, SAMPLE_RATE
from cmir_tf.data.atomic import atomic_path, write_npy

WINDOW_START_S = 20.0
WINDOW_S = 30.0
_front_end = None  # the traced log-mel, one per process


@dataclasses.dataclass(frozen=True)
class MelJob:
    """One track to turn into a cached mel: its audio file and its cache file."""

    audio_path: str
    cache_path: str


@dataclasses.dataclass(frozen=True)
class MelResult:
    """`content` is the sha256 of the mel's float16 bytes (equal for equal decoded audio); `error` the reason
    and message of a track that failed ("undecodable_audio" or "missing_audio"), else None."""


    job: MelJob
    frames: int = 0
    content: str = ""
    cached: bool = False
    error: tuple[str, str] | None = None


def cache_key(relative_path: str, size: int, mtime_ns: int) -> str:
    """The cache name of a file: 32 hex digits of sha256(path, size, mtime)."""
    return hashlib.sha256(f"{relative_path}\0{size}\0{mtime_ns}".encode()).hexdigest()[:32]


def cache_path(cache_dir: str, key: str) -> str:
    return os.path.join(cache_dir, key[:2], f"{key}.npy")


def window(waveform: np.ndarray) -> np.ndarray:
    """The (m,) part of a 16 kHz waveform that is prepared (module docstring): m <= 30 s of samples."""
    length = round(WINDOW_S * SAMPLE_RATE)
    start = min(round(WINDOW_START_S * SAMPLE_RATE), max(0, len(waveform) - length))
    return waveform[start:start + length]


def log_mel(waveform: np.ndarray) -> np.ndarray:
    """(48, T) float16 dB of a 16 kHz waveform: `cmir_tf.audio.log_mel_spectrogram`, traced once a process."""
    global _front_end
    if _front_end is None:
        import tensorflow as tf

        from cmir_tf.audio import log_mel_spectrogram

        _front_end = tf.function(log_mel_spectrogram, input_signature=[tf.TensorSpec([None], tf.float32)])
    return _front_end(waveform).numpy().T.astype(np.float16)


def _digest_path(cache_path: str) -> str:
    return cache_path.removesuffix(".npy") + ".sha256"


def compute(job: MelJob) -> MelResult:
    """The cached mel of `job`, computed (decoded, windowed, log-mel, written) unless already cached."""
    from cmir_tf.audio import load_audio

    cached = os.path.exists(job.cache_path)
    if cached and os.path.exists(_digest_path(job.cache_path)):
        with open(_digest_path(job.cache_path), encoding="ascii") as f:
            frames, content = f.read().split()
        return MelResult(job, int(frames), content, cached)
    if cached:
        mel = np.load(job.cache_path)
    else:
        try:
            mel = log_mel(window(load_audio(job.audio_path)))
        except FileNotFoundError as error:
            return MelResult(job, error=("missing_audio", str(error)))
        except (ValueError, OSError) as error:  # AudioDecodeError, AudioInputError (NaN, peak above 4)
            return MelResult(job, error=("undecodable_audio", str(error).splitlines()[0]))
        write_npy(job.cache_path, mel)
    assert mel.shape[0] == N_MELS, mel.shape
    content = hashlib.sha256(mel.tobytes()).hexdigest()
    with atomic_path(_digest_path(job.cache_path)) as tmp, open(tmp, "w", encoding="ascii") as f:
        f.write(f"{mel.shape[1]} {content}\n")
    return MelResult(job, mel.shape[1], content, cached)


def _one_thread() -> None:
    """Worker set-up: TensorFlow on one thread per process (the processes are the parallelism)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def compute_all(jobs: list[MelJob], workers: int) -> list[MelResult]:
    """`compute` of every job, results in job order: cached mels read here, the others computed in `workers`
    processes (in this one for 1)."""
    bar = tqdm(total=len(jobs), desc="mels", unit="track")
    results: dict[MelJob, MelResult] = {}
    missing = [job for job in jobs if not os.path.exists(job.cache_path)]
    for job in set(jobs) - set(missing):
        results[job] = compute(job)
        bar.update()
    if workers > 1 and len(missing) > 1:
        with multiprocessing.get_context("spawn").Pool(workers, initializer=_one_thread) as pool:
            for result in pool.imap(compute, missing, chunksize=4):
                results[result.job] = result
                bar.update()
    else:
        for job in missing:
            results[job] = compute(job)
            bar.update()
    bar.close()
    return [results[job] for job in jobs]
