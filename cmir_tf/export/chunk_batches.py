"""Embedding many tracks with few model calls and bounded memory: chunks of consecutive tracks share one
`embed_mel` batch.

A track (an audio file, a stored spectrogram, a sound in memory) is cut into 256-frame log-mel chunks, as the
SavedModel's `embed_track_mel` / `embed_waveform` cut it. `embed_streams` runs each track's chunk generator
(e.g. `cmir_tf.audio.chunker.file_chunks`: decoding, resampling and the log-mel in blocks) in `workers`
threads, a few tracks ahead of the model, each into a small bounded queue; it gathers the chunks of
consecutive tracks into batches of exactly `batch_size`, regroups the model's (B, D) outputs per track and
yields each track as soon as its last chunk is embedded. Memory is bounded by chunks, not by files: at most
`workers` tracks in flight, `QUEUED_BLOCKS` chunk blocks each, one batch, and the (n_chunks, D) outputs of the
tracks not yet yielded. The worker threads run at a lower priority than the model's. The model side is an
`EmbedChunks` function, `cmir_tf.export.exported.ExportedModel.chunk_embedder(output)`.
"""

from __future__ import annotations

import concurrent.futures
import os
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Sequence

import numpy as np
import tensorflow as tf

from cmir_tf.audio import chunk_mel, log_mel_spectrogram
from cmir_tf.audio.chunker import chunks_of_blocks
from cmir_tf.constants import N_MELS
from cmir_tf.export.exported import EmbedChunks

BATCH_CHUNKS = 128  # chunks per model call: the encoder's throughput is flat from about 64 on
WORKERS = min(4, os.cpu_count() or 1)  # tracks decoded at once, beside the model
QUEUED_BLOCKS = 4  # chunk blocks (of up to 4 chunks) a track's thread may run ahead of the model
WAVEFORM = tf.TensorSpec([None], tf.float32)  # 16 kHz mono samples
TRACK_MEL = tf.TensorSpec([None, N_MELS], tf.float32)  # (T, 48) log-mel in dB, time-major
ChunkSource = Callable[[str], Generator[np.ndarray, None, object]]  # key -> (k, 256, 48) blocks; returns info


@tf.function(input_signature=[WAVEFORM])
def waveform_chunks(waveform: tf.Tensor) -> tf.Tensor:
    """(n,) 16 kHz waveform -> (n_chunks, 256, 48) log-mel chunks, cut as `embed_waveform` cuts them."""
    return chunk_mel(log_mel_spectrogram(waveform))


def embed_chunk_batches(embed_chunks: EmbedChunks, chunks: np.ndarray, batch_size: int = BATCH_CHUNKS) -> np.ndarray:
    """(n, 256, 48) chunks -> (n, D), in model calls of at most `batch_size` chunks."""
    return np.concatenate([embed_chunks(chunks[i : i + batch_size]) for i in range(0, len(chunks), batch_size)])


def _background() -> None:
    """Lowers the calling (decoder) thread's scheduling priority by 10 where the OS allows it (Linux: a thread
    is a task of its own), so that on a busy CPU the model's threads, which wait for each other inside every
    op, run first and the decoders fill the gaps (benchmarks/bench_embed_library.py)."""
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(19, os.getpriority(os.PRIO_PROCESS, thread) + 10))
    except (AttributeError, OSError):  # no per-thread priority here
        pass


def _produce(source: ChunkSource, key: str, out: queue.Queue, stop: threading.Event) -> None:
    """Runs `source(key)` into `out`: ("chunks", (k, 256, 48)) items, then ("end", info) or ("error", e) (any
    exception: the consumer re-raises those that are not a failed track's)."""

    def put(item: tuple) -> None:
        while not stop.is_set():
            try:
                return out.put(item, timeout=0.1)
            except queue.Full:
                continue

    try:
        generator = source(key)
        while not stop.is_set():
            try:
                put(("chunks", next(generator)))
            except StopIteration as end:
                return put(("end", end.value))
    except Exception as e:  # noqa: BLE001 - handed to the consumer, which re-raises a defect
        put(("error", e))


class _Batches:
    """Chunks of consecutive tracks gathered into model calls of `batch_size`; rows regrouped per track."""

    def __init__(self, embed_chunks: EmbedChunks, batch_size: int):
        self.embed_chunks, self.batch_size = embed_chunks, batch_size
        self.pending: list[tuple[int, np.ndarray]] = []  # (track, chunks) not yet embedded
        self.count = 0
        self.rows: dict[int, list[np.ndarray]] = {}

    def add(self, track: int, chunks: np.ndarray) -> None:
        self.pending.append((track, chunks))
        self.count += len(chunks)
        while self.count >= self.batch_size:
            self.run(self.batch_size)

    def run(self, size: int) -> None:
        """Embeds the first `size` pending chunks in one call."""
        taken, tracks, left = [], [], size
        while left:
            track, chunks = self.pending[0]
            part, rest = chunks[:left], chunks[left:]
            taken.append(part)
            tracks += [track] * len(part)
            left -= len(part)
            if len(rest):
                self.pending[0] = (track, rest)
            else:
                self.pending.pop(0)
        self.count -= size
        vectors = np.asarray(self.embed_chunks(np.concatenate(taken)), dtype=np.float32)
        tracks = np.asarray(tracks)
        for track in np.unique(tracks):
            self.rows.setdefault(int(track), []).append(vectors[tracks == track])

    def holds(self, track: int) -> bool:
        return any(t == track for t, _ in self.pending)

    def flush(self) -> None:
        if self.count:
            self.run(self.count)

    def take(self, track: int) -> np.ndarray | None:
        rows = self.rows.pop(track, None)
        return None if rows is None else np.concatenate(rows)


def embed_streams(
    embed_chunks: EmbedChunks,
    keys: Sequence[str],
    source: ChunkSource,
    batch_size: int = BATCH_CHUNKS,
    workers: int = WORKERS,
) -> Iterator[tuple[str, np.ndarray | Exception, object]]:
    """Embeds every track of `keys`, batching chunks across tracks (module docstring).

    Args:
      embed_chunks: (B, 256, 48) -> (B, D), called with B = `batch_size` except for the last call.
      keys: track names, passed to `source`.
      source: key -> a generator of (k, 256, 48) float32 chunk blocks whose return value is the track's info
        (e.g. its length); run in worker threads; a `ValueError` or `OSError` it raises marks the track failed.
      batch_size: chunks per model call.
      workers: tracks decoded at once.

    Yields:
      In `keys` order: (key, (n_chunks, D) float32 chunk embeddings or the exception `source` raised, the
      info `source` returned (None on failure)).
    """
    batches = _Batches(embed_chunks, batch_size)
    stop = threading.Event()
    queues: dict[int, queue.Queue] = {}  # of the tracks started and not yet read to their end
    ended: list[tuple[int, object]] = []  # tracks whose chunks are all read, waiting for their last batch
    pool = concurrent.futures.ThreadPoolExecutor(max(1, workers), thread_name_prefix="cmir-decode",
                                                 initializer=_background)

    def start(index: int) -> None:
        queues[index] = queue.Queue(QUEUED_BLOCKS)
        pool.submit(_produce, source, keys[index], queues[index], stop)

    try:
        for index in range(min(workers, len(keys))):
            start(index)
        for index in range(len(keys)):
            if index + workers < len(keys):  # one track in, one out: `index` is running, never queued behind
                start(index + workers)
            while True:
                kind, value = queues[index].get()
                if kind == "chunks":
                    batches.add(index, value)
                    continue
                if kind == "error" and not isinstance(value, (ValueError, OSError)):
                    raise value  # a defect, not a bad track (undecodable file, bad spectrogram, unreadable file)
                ended.append((index, value))  # the track's info, or the exception its source raised
                break
            del queues[index]
            if index == len(keys) - 1:
                batches.flush()
            while ended and not batches.holds(ended[0][0]):
                done, info = ended.pop(0)
                rows = batches.take(done)
                if isinstance(info, Exception):
                    yield keys[done], info, None
                else:
                    yield keys[done], rows, info
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)


def _loaded_chunks(load: Callable[[str], np.ndarray], spec: tf.TensorSpec) -> ChunkSource:
    """A `ChunkSource` over whole tracks: `load(key)` as `spec` says, chunked; returns the track's length."""

    def chunks(key: str) -> Generator[np.ndarray, None, int]:
        track = np.asarray(load(key), dtype=np.float32)
        if spec.shape.rank == 1:
            yield from chunks_of_blocks(iter([track]))
        else:
            yield chunk_mel(track).numpy()
        return len(track)

    return chunks


def embed_tracks(
    embed_chunks: EmbedChunks,
    keys: Sequence[str],
    load: Callable[[str], np.ndarray],
    spec: tf.TensorSpec,
    batch_size: int = BATCH_CHUNKS,
) -> Iterator[tuple[str, np.ndarray | Exception, int]]:
    """`embed_streams` over tracks loaded whole: `load(key)` gives the track as `spec` describes it (a
    `WAVEFORM` or a `TRACK_MEL`); yields (key, (n_chunks, D) or the exception `load` raised, the track's length
    along its first axis: samples or frames, 0 on failure)."""
    for key, rows, length in embed_streams(embed_chunks, keys, _loaded_chunks(load, spec), batch_size):
        yield key, rows, length or 0
