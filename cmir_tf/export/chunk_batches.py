"""Embedding many tracks with few model calls: chunks of consecutive tracks share one `embed_mel` batch.

A track (an audio file, a stored spectrogram, a sound in memory) is cut into 256-frame log-mel chunks, as
the SavedModel's `embed_track_mel` / `embed_waveform` cut it; `embed_tracks` streams the chunks of all
tracks through a tf.data pipeline (parallel decoding, one item index per chunk), regroups the model's
(B, D) outputs per track and yields each track as soon as its last chunk is embedded. The model side is an
`EmbedChunks` function, `cmir_tf.export.exported.ExportedModel.chunk_embedder(output)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import tensorflow as tf

from cmir_tf.audio import chunk_mel, log_mel_spectrogram
from cmir_tf.constants import N_MELS
from cmir_tf.export.exported import EmbedChunks

BATCH_CHUNKS = 128  # chunks per model call: the encoder's throughput is flat from about 64 on
WAVEFORM = tf.TensorSpec([None], tf.float32)  # 16 kHz mono samples
TRACK_MEL = tf.TensorSpec([None, N_MELS], tf.float32)  # (T, 48) log-mel in dB, time-major


@tf.function(input_signature=[WAVEFORM])
def waveform_chunks(waveform: tf.Tensor) -> tf.Tensor:
    """(n,) 16 kHz waveform -> (n_chunks, 256, 48) log-mel chunks, cut as `embed_waveform` cuts them."""
    return chunk_mel(log_mel_spectrogram(waveform))


def embed_chunk_batches(embed_chunks: EmbedChunks, chunks: np.ndarray, batch_size: int = BATCH_CHUNKS) -> np.ndarray:
    """(n, 256, 48) chunks -> (n, D), in model calls of at most `batch_size` chunks."""
    return np.concatenate([embed_chunks(chunks[i : i + batch_size]) for i in range(0, len(chunks), batch_size)])


def embed_tracks(
    embed_chunks: EmbedChunks,
    keys: Sequence[str],
    load: Callable[[str], np.ndarray],
    spec: tf.TensorSpec,
    batch_size: int = BATCH_CHUNKS,
) -> Iterator[tuple[str, np.ndarray | Exception, int]]:
    """Embeds every track of `keys`, batching chunks across tracks.

    Args:
      embed_chunks: (B, 256, 48) -> (B, D), called with B = `batch_size` except for the last call.
      keys: track names, passed to `load`.
      load: key -> the track as `spec` describes it (a `WAVEFORM` or a `TRACK_MEL`), run in parallel
        tf.data threads; a `ValueError` or `OSError` it raises marks the track as failed.
      spec: `WAVEFORM` (chunks via the log-mel front end) or `TRACK_MEL` (chunked as it is).

    Yields:
      In `keys` order: (key, (n_chunks, D) float32 chunk embeddings or the exception `load` raised, length of
      the loaded track along its first axis (samples or frames; 0 on failure)).
    """
    errors: dict[int, Exception] = {}
    lengths: dict[int, int] = {}

    def load_item(index: np.int64) -> tuple[np.ndarray, bool]:
        try:
            track = np.asarray(load(keys[index]), dtype=np.float32)
        except (ValueError, OSError) as e:  # undecodable file, bad spectrogram
            errors[int(index)] = e
            return np.zeros([d or 0 for d in spec.shape.as_list()], np.float32), False
        lengths[int(index)] = len(track)
        return track, True

    def loaded(index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        track, ok = tf.numpy_function(load_item, [index], (tf.float32, tf.bool), stateful=True)
        return tf.ensure_shape(track, spec.shape), ok, index

    def to_chunks(track: tf.Tensor, ok: tf.Tensor, index: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        chunks = waveform_chunks(track) if spec.shape.rank == 1 else chunk_mel(track)
        return chunks, tf.fill([tf.shape(chunks)[0]], index)

    dataset = (
        tf.data.Dataset.range(len(keys))
        .map(loaded, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .filter(lambda track, ok, index: ok)
        .map(to_chunks, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .unbatch()
        .batch(batch_size)
        .prefetch(1)
    )
    rows: dict[int, list[np.ndarray]] = {}
    done = 0  # tracks before `done` have been yielded

    def finished(upto: int) -> Iterator[tuple[str, np.ndarray | Exception, int]]:
        nonlocal done
        for index in range(done, upto):
            if index in errors:
                yield keys[index], errors.pop(index), 0
            else:
                yield keys[index], np.concatenate(rows.pop(index)), lengths.pop(index)
        done = max(done, upto)

    for chunks, indices in dataset.as_numpy_iterator():
        vectors = np.asarray(embed_chunks(chunks), dtype=np.float32)
        for index in np.unique(indices):
            rows.setdefault(int(index), []).append(vectors[indices == index])
        yield from finished(int(indices[-1]))  # every track before the batch's last one is complete
    yield from finished(len(keys))

