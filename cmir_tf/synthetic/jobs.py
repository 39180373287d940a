"""Render jobs of the demo corpus: audio from recipes, saved as a Melon mel `.npy`, `.wav` or `.flac`."""

from __future__ import annotations

import dataclasses
import functools
import os

import numpy as np
import soundfile as sf

from cmir_tf.synthetic import synth


@dataclasses.dataclass(frozen=True)
class RenderJob:
    """One file: the mix of `recipes` (equal loudness), `n_samples` at `sample_rate` Hz.

    `path` (relative to its corpus part) decides the output: `.npy` -> (48, T) float16 log-mel in dB from
    `cmir_tf.audio.log_mel_spectrogram` (Melon's `arena_mel` form), `.wav` -> 16-bit PCM, `.flac` -> FLAC.
    `seed` (ints) together with the corpus seed keys the job's random generator, so output does not depend
    on which worker renders it.
    """

    path: str
    recipes: tuple[synth.Recipe, ...]
    n_samples: int
    sample_rate: int
    energy: float
    seed: tuple[int, ...]


@functools.lru_cache(maxsize=1)
def _mel_function():
    from cmir_tf import runtime  # noqa: PLC0415

    runtime.load_tensorflow()  # quiet in a render worker of a quiet command (it inherits the environment)
    import tensorflow as tf  # noqa: PLC0415 (workers that write only audio never load TensorFlow)

    from cmir_tf.audio import log_mel_spectrogram  # noqa: PLC0415

    return tf.function(log_mel_spectrogram, input_signature=[tf.TensorSpec([None], tf.float32)])


def single_threaded_worker() -> None:
    """Pool initializer: one TensorFlow thread per render process, so processes do not oversubscribe cores.
    Set through the variables TensorFlow reads when it starts, so that a worker loads TensorFlow only when it
    renders a mel."""
    os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"


def render_job(job: RenderJob, root: str, corpus_seed: int) -> None:
    """Renders `job` and writes `root/job.path`."""
    rng = np.random.default_rng([corpus_seed, *job.seed])
    audio = sum(synth.render(r, job.n_samples, job.sample_rate, rng, job.energy) for r in job.recipes)
    audio = (audio / len(job.recipes)).astype(np.float32)
    path = os.path.join(root, job.path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if path.endswith(".npy"):
        mel = _mel_function()(audio).numpy()
        np.save(path, mel.T.astype(np.float16))
    elif path.endswith(".wav"):
        sf.write(path, audio, job.sample_rate, subtype="PCM_16")
    elif path.endswith(".flac"):
        sf.write(path, audio, job.sample_rate, subtype="PCM_16", format="FLAC")
    else:
        raise ValueError(f"unknown output type: {job.path}")
