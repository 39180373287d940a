"""Embeddings for the downstream tasks: an exported SavedModel as an embedder, and an on-disk cache.

Any SavedModel with the `embed_track_mel` and `embed_waveform` signatures of
`cmir_tf.export.saved_model` can be evaluated, including imported ones. Both signatures split their input
into non-overlapping 256-frame chunks; the embedder returns one row per chunk, either the 1024-d CNN
`features` (what the authors' downstream code used) or the 128-d projected `embedding`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable
from typing import IO, Protocol

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from cmir_tf.audio.recipe import check_front_end
from cmir_tf.evaluation.files import MAX_NAMED, atomic_write, check_missing, find_by_stem

OUTPUTS = ("features", "embedding")
SHARD = re.compile(r"shard-\d{5}\.npz")


class Embedder(Protocol):
    """What the protocols need from an embedding model (tests use small stand-ins)."""

    model_key: str  # identifies the model's weights, names its cache folder
    output: str  # "features" | "embedding"
    dim: int  # embedding dimension D

    def embed_track_mel(self, mel: np.ndarray) -> np.ndarray:
        """(T, 48) log-mel in dB -> (n_chunks, D) chunk embeddings."""

    def embed_waveform_file(self, path: str, segment: str) -> np.ndarray:
        """Audio file -> (n_chunks, D) chunk embeddings of its `segment` ("center29.1" | "full")."""


def model_fingerprint(model_dir: str) -> str:
    """`<folder name>-<12 hex digits>`: a hash of the SavedModel graph and variable index."""
    digest = hashlib.sha256()
    for name in ("saved_model.pb", os.path.join("variables", "variables.index")):
        path = os.path.join(model_dir, name)
        if os.path.exists(path):
            with open(path, "rb") as f:
                digest.update(f.read())
    folder = os.path.basename(os.path.normpath(model_dir)) or "model"
    return f"{folder}-{digest.hexdigest()[:12]}"


class SavedModelEmbedder:
    """Chunk embeddings from an exported SavedModel.

    Args:
      model_dir: SavedModel folder written by `export_audio_encoder` (or an imported model).
      output: "features" (n_chunks, 1024) or "embedding" (n_chunks, 128).
    """

    def __init__(self, model_dir: str, output: str = "features"):
        if output not in OUTPUTS:
            raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
        if not os.path.exists(os.path.join(model_dir, "saved_model.pb")):
            raise FileNotFoundError(f"no SavedModel at {model_dir}")
        check_front_end(model_dir)  # raises FrontEndMismatchError
        loaded = tf.saved_model.load(model_dir)
        missing = {"embed_track_mel", "embed_waveform"} - set(loaded.signatures.keys())
        if missing:
            raise ValueError(f"SavedModel {model_dir} lacks the signatures {sorted(missing)}")
        self._loaded = loaded  # keeps the signatures' variables alive
        self._track_mel = loaded.signatures["embed_track_mel"]
        self._waveform = loaded.signatures["embed_waveform"]
        self.output = output
        self.dim = int(self._track_mel.structured_outputs[output].shape[-1])
        self.model_key = model_fingerprint(model_dir)

    def embed_track_mel(self, mel: np.ndarray) -> np.ndarray:
        """(T, 48) float32 log-mel in dB -> (n_chunks, D) float32."""
        out = self._track_mel(mel=tf.constant(mel, dtype=tf.float32))
        return out[self.output].numpy()

    def embed_waveform(self, waveform: np.ndarray) -> np.ndarray:
        """(n,) float32 16 kHz mono waveform -> (n_chunks, D) float32."""
        out = self._waveform(waveform=tf.constant(waveform, dtype=tf.float32))
        return out[self.output].numpy()

    def embed_waveform_file(self, path: str, segment: str) -> np.ndarray:
        """Decodes `path`, keeps `segment` ("center29.1" | "full") -> (n_chunks, D) float32."""
        from cmir_tf import audio  # imported here: only file embedding needs the decoders

        waveform = audio.select_segment(audio.load_audio(path), segment)
        return self.embed_waveform(np.asarray(waveform, dtype=np.float32))


def dataset_key(name: str, root: str) -> str:
    """`<name>-<8 hex digits of the corpus folder's absolute path>`: equal file names in two corpora differ."""
    return f"{name}-{hashlib.sha256(os.path.abspath(root).encode()).hexdigest()[:8]}"


class EmbeddingCache:
    """Per-item embeddings of one model, output and dataset, kept on disk as `.npz` shards.

    Folder `<cache_dir>/<model_key>/<dataset>-<output>/`, files `shard-NNNNN.npz`, each with `keys` (n,) str,
    `lengths` (n,) int64 rows per item and `values` (sum(lengths), D) float32. A shard of the new items is
    written atomically every `flush_every` items and at the end, so nothing is rewritten and an interrupted
    run resumes where it stopped.
    """

    def __init__(self, cache_dir: str | None, embedder: Embedder, dataset: str, flush_every: int = 2000):
        self.folder = (os.path.join(cache_dir, embedder.model_key, f"{dataset}-{embedder.output}")
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

    def compute(self, keys: Iterable[str], embed: Callable[[str], np.ndarray], *, skip_errors: bool,
                desc: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
        """Returns embeddings of `keys`, computing the uncached ones with `embed(key) -> (rows, D)`.

        A `ValueError` or `OSError` from `embed` (e.g. an undecodable file) is re-raised naming the key,
        or with `skip_errors` recorded in the second return value, `{key: error message}`.
        """
        keys = list(dict.fromkeys(keys))
        todo = [k for k in keys if k not in self._items]
        failed: dict[str, str] = {}
        try:
            for key in tqdm(todo, desc=desc, unit="item", disable=not todo):
                try:
                    rows = np.asarray(embed(key), dtype=np.float32)
                except (ValueError, OSError) as e:
                    if not skip_errors:
                        raise ValueError(f"{key}: {type(e).__name__}: {e}") from e
                    failed[key] = f"{type(e).__name__}: {e}"
                    continue
                if rows.ndim != 2 or rows.shape[0] == 0:
                    raise ValueError(f"{key}: expected (rows >= 1, D) embeddings, got {rows.shape}")
                self._items[key] = rows
                self._unsaved.append(key)
                if len(self._unsaved) >= self._flush_every:
                    self.save()
        finally:
            self.save()
        return {k: self._items[k] for k in keys if k in self._items}, failed

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

    def embed(rel: str) -> np.ndarray:
        rows = embedder.embed_waveform_file(found[rel], segment)
        return rows.mean(axis=0, keepdims=True) if mean else rows

    cache = EmbeddingCache(cache_dir, embedder, dataset_key(f"{dataset}-{segment}{'-mean' if mean else ''}", root))
    present = [rel for rel in relpaths if found[rel] is not None]
    embeddings, failed = cache.compute(present, embed, skip_errors=allow_missing, desc=f"embedding {dataset}")
    skipped = missing + list(failed)
    return embeddings, {"missing": len(missing), "undecodable": len(failed), "first_skipped": skipped[:MAX_NAMED]}
