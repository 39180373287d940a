"""The HEAR 2021 common API (hear-eval-kit) over the exported audio encoder.

    model = load_model("path/to/saved_model")   # or load_model("pretrained:contr_cf_g")
    scene = get_scene_embeddings(audio, model)  # audio: tf.Tensor (n_sounds, n_samples) at 16 kHz
    embeddings, timestamps = get_timestamp_embeddings(audio, model)

Each sound is cut into non-overlapping 256-frame (4.096 s) chunks, as `embed_waveform` cuts it; the chunks
of all sounds go through the model's `embed_mel` together, 128 a call. The timestamp embeddings are the chunk
embeddings, stamped at the chunk centres inside the sound, and the scene embedding is their mean.

Sounds follow the audio input contract of `cmir_tf.audio.input_contract`, as files and the SavedModel's
signatures do: an empty sound, NaN/inf samples or a peak above 4 (e.g. int16-scale audio) is refused with an
`AudioInputError` naming the sound; a peak between 1 and 4 is passed through with a warning.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from cmir_tf import errors
from cmir_tf.audio import check_levels, chunk_centers_ms, num_frames
from cmir_tf.constants import CHUNK_FRAMES, EMBEDDING_DIM, FEATURES_DIM, SAMPLE_RATE
from cmir_tf.export.chunk_batches import EmbedChunks, embed_chunk_batches, waveform_chunks
from cmir_tf.export.exported import ExportedModel

OUTPUT_DIMS = {"features": FEATURES_DIM, "embedding": EMBEDDING_DIM}


class HearModel:
    """What `load_model` returns: the chunk embedder plus the sizes HEAR reads.

    Args:
      embed_chunks: (B, 256, 48) log-mel chunks -> (B, D) numpy function (`ExportedModel.chunk_embedder`).
      output: "features" (1024-d CNN output, what the authors evaluated downstream) or "embedding" (128-d).
      owner: object that must stay alive for `embed_chunks` to work (the `ExportedModel`).
    """

    sample_rate = SAMPLE_RATE

    def __init__(self, embed_chunks: EmbedChunks, output: str = "features", owner=None):
        self.embed_chunks = embed_chunks
        self.output = output
        self.scene_embedding_size = OUTPUT_DIMS[output]
        self.timestamp_embedding_size = OUTPUT_DIMS[output]
        self._owner = owner


def load_model(model_file_path: str = "", output: str = "features", *, random_encoder: bool = False) -> HearModel:
    """Opens an exported SavedModel folder, or `pretrained:NAME` (one of the authors' released encoders,
    fetched on first use), through `ExportedModel` (checked to be a cmir-tf export with this package's front
    end). No path is refused, unless `random_encoder=True` asks for a randomly initialised encoder (for API
    checks only: its embeddings mean nothing).

    Raises `ValueError` for an unknown `output` or a missing path, `NotACmirModelError` (a `ValueError`) for a
    folder that is not a cmir-tf SavedModel and `FrontEndMismatchError` for one with another front end."""
    if output not in OUTPUT_DIMS:
        raise errors.ConfigError(f"output must be one of {sorted(OUTPUT_DIMS)}, got {output!r}")
    if model_file_path:
        model = ExportedModel(model_file_path)
        return HearModel(model.chunk_embedder(output), output, owner=model)
    if not random_encoder:
        raise errors.ConfigError("load_model needs the path of an exported cmir-tf SavedModel (e.g. RUN/export); pass "
                         "random_encoder=True for an untrained encoder (API checks only)")
    from cmir_tf.export.saved_model import AudioEncoderModule  # builds Keras models: only when needed
    from cmir_tf.models import build_audio_encoder

    module = AudioEncoderModule(build_audio_encoder())
    return HearModel(lambda mel: module.embed_mel(tf.constant(mel))[output].numpy(), output, owner=module)


def _check_audio(audio: tf.Tensor) -> tf.Tensor:
    """`audio` as float32 (n_sounds, n_samples), each sound checked against the input contract."""
    audio = tf.convert_to_tensor(audio, dtype=tf.float32)
    if audio.shape.rank != 2:
        raise errors.ConfigError(f"audio must be (n_sounds, n_samples), got shape {audio.shape}")
    for i, sound in enumerate(audio.numpy()):
        check_levels(sound, f"sound {i}")
    return audio


def get_timestamp_embeddings(audio: tf.Tensor, model: HearModel) -> tuple[tf.Tensor, tf.Tensor]:
    """Chunk embeddings of each sound.

    Args:
      audio: float32 (n_sounds, n_samples) at 16 kHz in [-1, 1] (module docstring: what is refused).
      model: from `load_model`.

    Returns:
      embeddings float32 (n_sounds, n_chunks, D) and timestamps float32 (n_sounds, n_chunks), the chunk
      centres in ms (inside the sound); n_chunks = ceil((1 + ceil(n_samples / 256)) / 256).
    """
    audio = _check_audio(audio)
    n_sounds, n_samples = audio.shape
    n_chunks = -(-num_frames(n_samples) // CHUNK_FRAMES)
    dim = model.timestamp_embedding_size
    if n_sounds:
        chunks = np.concatenate([waveform_chunks(sound).numpy() for sound in tf.unstack(audio)])
        embeddings = embed_chunk_batches(model.embed_chunks, chunks).reshape(n_sounds, n_chunks, dim)
    else:
        embeddings = np.zeros([0, n_chunks, dim], np.float32)
    timestamps = tf.tile(chunk_centers_ms(num_frames(n_samples))[tf.newaxis], [n_sounds, 1])
    return tf.constant(embeddings), timestamps


def get_scene_embeddings(audio: tf.Tensor, model: HearModel) -> tf.Tensor:
    """float32 (n_sounds, D): the mean of each sound's chunk embeddings."""
    embeddings, _ = get_timestamp_embeddings(audio, model)
    return tf.reduce_mean(embeddings, axis=1)
