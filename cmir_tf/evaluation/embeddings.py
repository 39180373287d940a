"""Embeddings for the downstream tasks: an exported SavedModel as an embedder, and an on-disk cache.

Any cmir-tf export (`cmir_tf.export.exported.ExportedModel`) can be evaluated, including imported ones. Tracks (audio files, stored spectrograms) are cut into non-overlapping 256-frame chunks as
the SavedModel's own track signatures cut them, and the chunks of consecutive tracks share model calls of
128 chunks (`cmir_tf.export.chunk_batches`). The embedder returns one row per chunk, either the 1024-d CNN
`features` (what the authors' downstream code used) or the 128-d projected `embedding`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import IO, Protocol

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from cmir_tf import audio
from cmir_tf.data.atomic import atomic_write
from cmir_tf.evaluation.files import MAX_NAMED, check_missing, find_by_stem
from cmir_tf.export.chunk_batches import WAVEFORM, embed_tracks
from cmir_tf.export.exported import OUTPUTS, ExportedModel

SHARD = re.compile(r"shard-\d{5}\.npz")
EmbedMany = Callable[[list[str]], Iterable[tuple[str, "np.ndarray | Exception"]]]  # keys -> (key, rows | error)
EmbedManyOutputs = Callable[[list[str]], Iterable[tuple[str, "dict[str, np.ndarray] | Exception"]]]  # per output


class Embedder(Protocol):
    """What the protocols need from an embedding model (tests use small stand-ins)."""

    model_key: str  # identifies the model's content (graph and weights), names its cache folder
    output: str  # "features" | "embedding"
    dim: int  # embedding dimension D

    def embed_chunks(self, chunks: np.ndarray) -> np.ndarray:
        """(B, 256, 48) float32 log-mel chunks in dB -> (B, D) float32 chunk embeddings."""


def offered_outputs(embedder: Embedder) -> tuple[str, ...]:
    """The outputs an embedder computes: its `output`, and with `embed_both` every output in its `dims`."""
    if not hasattr(embedder, "embed_both"):
        return (embedder.output,)
    return tuple(dict.fromkeys((embedder.output, *embedder.dims)))


class SavedModelEmbedder:
    """Chunk embeddings from an exported model's `embed_mel` signature.

    Args:
      model: an opened `ExportedModel`, or its folder (opened and checked here: `NotACmirModelError`,
        `FrontEndMismatchError`).
      output: "features" (n_chunks, 1024) or "embedding" (n_chunks, 128).
    """

    def __init__(self, model: ExportedModel | str, output: str = "features"):
        self.model = ExportedModel.of(model)
        self.embed_chunks = self.model.chunk_embedder(output)
        self.output = output
        self.dims = {name: self.model.output_dim(name) for name in OUTPUTS}
        self.dim = self.dims[output]
        self.model_key = self.model.fingerprint.replace(":", "-")[:23]  # sha256-<16 hex>: the model's content

    def embed_both(self, chunks: np.ndarray) -> dict[str, np.ndarray]:
        """(B, 256, 48) chunks -> {output: (B, dims[output])} for every output in `dims`, in one model call."""
        outputs = self.model.signatures["embed_mel"](mel=tf.constant(chunks, tf.float32))
        return {name: outputs[name].numpy() for name in self.dims}


def dataset_key(name: str, root: str) -> str:
    """`<name>-<8 hex digits of the corpus folder's absolute path>`: equal file names in two corpora differ."""
    return f"{name}-{hashlib.sha256(os.path.abspath(root).encode()).hexdigest()[:8]}"


class EmbeddingCache:
    """Per-item embeddings of one model, output and dataset, kept on disk as `.npz` shards.

    Folder `<cache_dir>/<model_key>/<dataset>-<output>/` (`output`: the embedder's unless given; one folder
    per output, so a cache written for one output alone is read as it is and the other is computed), files
    `shard-NNNNN.npz`, each with `keys` (n,) str, `lengths` (n,) int64 rows per item and `values`
    (sum(lengths), D) float32. A shard of the new items is written atomically every `flush_every` items and at
    the end, so nothing is rewritten and an interrupted run resumes where it stopped.
    """

    def __init__(self, cache_dir: str | None, embedder: Embedder, dataset: str, flush_every: int = 2000,
                 output: str | None = None):
        self.folder = (os.path.join(cache_dir, embedder.model_key, f"{dataset}-{output or embedder.output}")
                       if cache_dir else None)  # None: kept in memory only
        self._flush_every = flush_every
        self._items: dict[str, np.ndarray] = {}
        self._unsaved: list[str] = []
        self._shards = sorted(f for f in os.listdir(self.folder) if SHARD.fullmatch(f)) \
            if self.folder and os.path.isdir(self.folder) else []
        for name in self._shards:
            with np.load(os.path.join(self.folder, name)) as data:
                values = np.split(data["values"], np.cumsum(data["lengths"])[:-1])
                self._items.update(zip(data["keys"].tolist(), values))

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def get(self, key: str) -> np.ndarray | None:
        return self._items.get(key)

    def add(self, key: str, rows: np.ndarray) -> None:
        """Keeps `rows` (n >= 1, D) as `key`'s; a shard is written every `flush_every` new items."""
        rows = np.asarray(rows, dtype=np.float32)
        if rows.ndim != 2 or rows.shape[0] == 0:
            raise ValueError(f"{key}: expected (rows >= 1, D) embeddings, got {rows.shape}")
        self._items[key] = rows
        self._unsaved.append(key)
        if len(self._unsaved) >= self._flush_every:
            self.save()

    def compute(self, keys: Iterable[str], embed_many: EmbedMany, *, skip_errors: bool,
                desc: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """`compute_outputs` for this cache alone: `embed_many` yields `(key, (rows, D) array | exception)`."""

        def as_outputs(todo: list[str]) -> Iterator[tuple[str, dict[str, np.ndarray] | Exception]]:
            for key, rows in embed_many(todo):
                yield key, rows if isinstance(rows, Exception) else {"": rows}

        vectors, failed = compute_outputs({"": self}, keys, as_outputs, skip_errors=skip_errors, desc=desc)
        return vectors[""], failed

    def save(self) -> None:
        """Writes the items computed since the last save as a new shard (no-op in memory-only mode)."""
        if not self.folder or not self._unsaved:
            return
        keys, self._unsaved = self._unsaved, []
        values = [self._items[k] for k in keys]

        def write(f: IO[bytes]) -> None:
            np.savez(f, keys=np.array(keys, dtype=str), lengths=np.array([len(v) for v in values], np.int64),
                     values=np.concatenate(values, axis=0))

        name = f"shard-{len(self._shards):05d}.npz"
        atomic_write(os.path.join(self.folder, name), write)
        self._shards.append(name)


def compute_outputs(caches: dict[str, EmbeddingCache], keys: Iterable[str], embed_many: EmbedManyOutputs, *,
                    skip_errors: bool, desc: str) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, str]]:
    """Embeddings of `keys` for every output in `caches` ({output: its cache}), computing in one pass the keys
    that any cache lacks with `embed_many(those keys)`, which yields `(key, {output: (rows, D) array})` per
    key, or `(key, exception)` for a `ValueError` / `OSError` (e.g. an undecodable file). A cache that already
    holds a key keeps its rows. An exception is re-raised naming the key, or with `skip_errors` recorded in
    the second return value, `{key: error message}`. Returns `{output: {key: rows}}` and that record.
    """
    keys = list(dict.fromkeys(keys))
    todo = [k for k in keys if any(k not in cache for cache in caches.values())]
    failed: dict[str, str] = {}
    try:
        for key, rows in tqdm(embed_many(todo) if todo else (), desc=desc, unit="item", total=len(todo),
                              disable=not todo):
            if isinstance(rows, Exception):
                if not skip_errors:
                    raise ValueError(f"{key}: {type(rows).__name__}: {rows}") from rows
                failed[key] = f"{type(rows).__name__}: {rows}"
                continue
            for output, cache in caches.items():
                if key not in cache:
                    cache.add(key, rows[output])
    finally:
        for cache in caches.values():
            cache.save()
    vectors = {output: {k: cache.get(k) for k in keys if k in cache} for output, cache in caches.items()}
    return vectors, failed


def track_embedder(embedder: Embedder, load: Callable[[str], np.ndarray], spec: tf.TensorSpec,
                   outputs: Sequence[str], mean: bool) -> EmbedManyOutputs:
    """`EmbedManyOutputs` over tracks that `load(key)` reads as `spec` (`chunk_batches.WAVEFORM` or
    `TRACK_MEL`), batched across tracks; per output, the (n_chunks, D) chunk embeddings or their (1, D) mean
    if `mean`. Several `outputs` (of `offered_outputs(embedder)`) come from the same `embed_both` calls."""
    if tuple(outputs) == (embedder.output,):
        embed_chunks = embedder.embed_chunks
    else:
        def embed_chunks(chunks: np.ndarray) -> np.ndarray:  # the outputs side by side: (B, sum of dims)
            both = embedder.embed_both(chunks)
            return np.concatenate([both[o] for o in outputs], axis=1)
    ends = np.cumsum([embedder.dims[o] for o in outputs] if len(outputs) > 1 else [embedder.dim])[:-1]

    def embed_many(keys: Sequence[str]) -> Iterator[tuple[str, dict[str, np.ndarray] | Exception]]:
        for key, rows, _ in embed_tracks(embed_chunks, keys, load, spec):
            if isinstance(rows, Exception):
                yield key, rows
                continue
            rows = rows.mean(axis=0, keepdims=True) if mean else rows
            yield key, dict(zip(outputs, np.split(rows, ends, axis=1)))

    return embed_many


def embed_listed_files(embedder: Embedder, root: str, relpaths: Iterable[str], *, dataset: str, segment: str,
                       mean: bool, cache_dir: str | None, allow_missing: bool,
                       what: str) -> tuple[dict[str, np.ndarray], dict]:
    """Embeds the audio files a split lists, relative to `root`, through an `EmbeddingCache`.

    Files are found by stem (any extension). Missing files raise `MissingFilesError` naming the first ones,
    and undecodable ones re-raise, unless `allow_missing`, which skips both and counts them.

    Returns:
      `{relpath: (n_chunks, D)}` chunk embeddings, or `{relpath: (1, D)}` chunk means if `mean`, and the skip
      report `{"missing": int, "undecodable": int, "first_skipped": [relpath, ...]}`.
    """
    relpaths = list(dict.fromkeys(relpaths))
    found = {rel: find_by_stem(os.path.join(root, rel)) for rel in relpaths}
    missing = [rel for rel, path in found.items() if path is None]
    check_missing(missing, len(relpaths), what, allow_missing)

    def load(rel: str) -> np.ndarray:
        return audio.select_segment(audio.load_audio(found[rel]), segment)

    cache = EmbeddingCache(cache_dir, embedder, dataset_key(f"{dataset}-{segment}{'-mean' if mean else ''}", root))
    present = [rel for rel in relpaths if found[rel] is not None]
    embeddings, failed = compute_outputs({embedder.output: cache}, present,
                                         track_embedder(embedder, load, WAVEFORM, (embedder.output,), mean),
                                         skip_errors=allow_missing, desc=f"embedding {dataset}")
    embeddings = embeddings[embedder.output]
    skipped = missing + list(failed)
    return embeddings, {"missing": len(missing), "undecodable": len(failed), "first_skipped": skipped[:MAX_NAMED]}
