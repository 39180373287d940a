"""The HEAR 2021 common API (hear-eval-kit) over the exported audio encoder.

    model = load_model("path/to/saved_model")
    scene = get_scene_embeddings(audio, model)  # audio: tf.Tensor (n_sounds, n_samples) at 16 kHz
    embeddings, timestamps = get_timestamp_embeddings(audio, model)

Each sound is cut into non-overlapping 256-frame (4.096 s) chunks (`embed_waveform`); the timestamp
embeddings are the chunk embeddings, stamped at the chunk centres, and the scene embedding is their mean.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from cmir_tf.audio import chunk_centers_ms, num_frames
from cmir_tf.constants import CHUNK_FRAMES, EMBEDDING_DIM, FEATURES_DIM, SAMPLE_RATE

OUTPUT_DIMS = {"features": FEATURES_DIM, "embedding": EMBEDDING_DIM}


class HearModel:
    """What `load_model` returns: the `embed_waveform` function plus the sizes HEAR reads.

    Args:
      embed_waveform: `embed_waveform` of an exported SavedModel (or of an `AudioEncoderModule`).
      output: "features" (1024-d CNN output, what the authors evaluated downstream) or "embedding" (128-d).
      owner: object that must stay alive for `embed_waveform` to work (the loaded SavedModel).
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, embed_waveform: Callable[[tf.Tensor], dict], output: str = "features", owner=None):
        if output not in OUTPUT_DIMS:
            raise ValueError(f"output must be one of {sorted(OUTPUT_DIMS)}, got {output!r}")
        self.embed_waveform = embed_waveform
        self.output = output
        self.scene_embedding_size = OUTPUT_DIMS[output]
        self.timestamp_embedding_size = OUTPUT_DIMS[output]
        self._owner = owner


def load_model(model_file_path: str = "", output: str = "features") -> HearModel:
    """Loads an exported SavedModel folder; with no path, a randomly initialised encoder (for API checks)."""
    if model_file_path:
        loaded = tf.saved_model.load(model_file_path)
        return HearModel(loaded.embed_waveform, output, owner=loaded)
    from cmir_tf.export.saved_model import AudioEncoderModule  # builds Keras models: only when needed
    from cmir_tf.models import build_audio_encoder

    module = AudioEncoderModule(build_audio_encoder())
    return HearModel(module.embed_waveform, output, owner=module)


def _check_audio(audio: tf.Tensor) -> tf.Tensor:
    audio = tf.convert_to_tensor(audio, dtype=tf.float32)
    if audio.shape.rank != 2:
        raise ValueError(f"audio must be (n_sounds, n_samples), got shape {audio.shape}")
    return audio


def get_timestamp_embeddings(audio: tf.Tensor, model: HearModel) -> tuple[tf.Tensor, tf.Tensor]:
    """Chunk embeddings of each sound.

    Args:
      audio: float32 (n_sounds, n_samples) at 16 kHz in [-1, 1].
      model: from `load_model`.

    Returns:
      embeddings float32 (n_sounds, n_chunks, D) and timestamps float32 (n_sounds, n_chunks), the chunk
      centres in ms; n_chunks = ceil((1 + ceil(n_samples / 256)) / 256).
    """
    audio = _check_audio(audio)
    n_sounds, n_samples = audio.shape
    n_chunks = -(-num_frames(n_samples) // CHUNK_FRAMES)
    per_sound = [model.embed_waveform(sound)[model.output] for sound in tf.unstack(audio)]
    if per_sound:
        embeddings = tf.stack(per_sound)
    else:
        embeddings = tf.zeros([0, n_chunks, model.timestamp_embedding_size])
    timestamps = tf.tile(chunk_centers_ms(n_chunks)[tf.newaxis], [n_sounds, 1])
    return embeddings, timestamps


def get_scene_embeddings(audio: tf.Tensor, model: HearModel) -> tf.Tensor:
    """float32 (n_sounds, D): the mean of each sound's chunk embeddings."""
    embeddings, _ = get_timestamp_embeddings(audio, model)
    return tf.reduce_mean(embeddings, axis=1)
