"""On-disk Annoy index of a folder of audio in the joint space: songs for a genre, songs like a song.

An index is a folder: `songs.ann` (angular Annoy forest over the songs' 128-d joint-space embeddings, item i
= song i), `songs.npy` (those embeddings, float32) and `index.json` (the song paths, the model's content fingerprint,
`ExportedModel.fingerprint`, and the folder it was in). An index is keyed by the model's content, not its path:
a moved or copied model queries it, another model is refused. It is built in a temporary folder next to its destination and renamed into place, so a killed
build leaves no half-written index.

    index = build_index(JointSpace(model_dir), audio_files, "music.idx")
    AudioIndex("music.idx").nearest(space.embed_genres([["GN0100"]])[0], top_k=10)  # [(path, cosine), ...]
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Sequence

import annoy
import numpy as np
from tqdm import tqdm

from cmir_tf import errors
from cmir_tf.data.lock import exclusive_lock
from cmir_tf.export.exported import ExportedModel
from cmir_tf.joint import JointSpace, unit_rows

ANNOY_FILE, VECTORS_FILE, META_FILE = "songs.ann", "songs.npy", "index.json"


@dataclasses.dataclass
class BuildSummary:
    """What `build_index` did: songs indexed and (file, reason) of those that could not be decoded."""

    indexed: int = 0
    failed: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def build_index(space: JointSpace, paths: Sequence[str], index_dir: str, *, n_trees: int = 50,
                overwrite: bool = False, seed: int = 0) -> BuildSummary:
    """Embeds `paths` (whole files, progress bar) and writes the index folder `index_dir` atomically.

    One build at a time per index: the lock is a sibling folder, `.<name>.building` (the index folder itself
    is replaced whole), removed when the build ends. Undecodable files are skipped and listed in the summary. Raises
    `errors.OutputExistsError` if `index_dir` exists and not `overwrite`, `errors.PathError` if its folder cannot
    be written, `errors.InputError` if no file could be embedded, `DirectoryLockedError` while another process
    builds the same index.
    """
    index_dir = os.path.abspath(index_dir)
    folder, name = os.path.split(index_dir)
    errors.require_writable_dir(folder, "the index's folder")
    lock_dir = os.path.join(folder, f".{name}.building")
    with exclusive_lock(lock_dir, "cmir-search index"):
        try:
            return _build_index(space, paths, index_dir, n_trees=n_trees, overwrite=overwrite, seed=seed)
        finally:  # removed while still held: only a writer that opened it in that instant could miss the lock
            shutil.rmtree(lock_dir, ignore_errors=True)


def _build_index(space: JointSpace, paths: Sequence[str], index_dir: str, *, n_trees: int, overwrite: bool,
                 seed: int) -> BuildSummary:
    if os.path.exists(index_dir) and not overwrite:
        raise errors.OutputExistsError(f"{index_dir} exists; pass --overwrite to replace it")
    summary, kept, vectors = BuildSummary(), [], []
    progress = tqdm(space.embed_files(paths), total=len(paths), unit="file", desc="indexing")
    for path, vector in progress:
        if isinstance(vector, Exception):  # AudioDecodeError, unreadable file
            summary.failed.append((path, str(vector)))
            progress.set_postfix(failed=len(summary.failed))
            continue
        vectors.append(vector)
        kept.append(os.path.abspath(path))
    if not kept:
        raise errors.InputError(f"none of the {len(paths)} audio files could be embedded")
    try:
        write_index(index_dir, np.stack(vectors), kept, space, n_trees=n_trees, seed=seed)
    except OSError as error:  # read-only or full location: nothing half-written (renamed into place)
        raise errors.input_error_from_os(error, index_dir, "write the index") from error
    summary.indexed = len(kept)
    return summary


def write_index(index_dir: str, vectors: np.ndarray, paths: Sequence[str], space: JointSpace, *, n_trees: int = 50,
                seed: int = 0) -> None:
    """Writes the index folder of (N, D) joint-space `vectors` of the songs at `paths` (absolute), keyed by
    `space`'s model, through a scratch folder renamed into place (an existing `index_dir` is replaced)."""
    vectors = np.asarray(vectors, np.float32)
    parent = os.path.dirname(index_dir)
    os.makedirs(parent, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=parent, prefix=".index-") as scratch:
        staged = os.path.join(scratch, "index")
        os.mkdir(staged)
        forest = annoy.AnnoyIndex(vectors.shape[1], "angular")
        forest.set_seed(seed)
        for i, vector in enumerate(vectors):
            forest.add_item(i, vector)
        forest.build(n_trees, n_jobs=1)
        forest.save(os.path.join(staged, ANNOY_FILE))
        np.save(os.path.join(staged, VECTORS_FILE), vectors)
        meta = {"paths": list(paths), "model": os.path.abspath(space.model_dir), "model_key": space.model.fingerprint,
                "dim": int(vectors.shape[1]), "n_trees": n_trees}
        with open(os.path.join(staged, META_FILE), "w") as f:
            json.dump(meta, f, indent=1)
        if os.path.exists(index_dir):
            shutil.move(index_dir, os.path.join(scratch, "replaced"))
        os.replace(staged, index_dir)


class NotAnIndexError(errors.UsageError, FileNotFoundError):
    """The folder holds no cmir-search index."""


class ModelMismatchError(errors.UsageError, ValueError):
    """The model given to query an index is not the one the index was built with."""


class AudioIndex:
    """A folder written by `build_index`, for nearest-song queries by cosine similarity."""

    def __init__(self, index_dir: str):
        meta_path = os.path.join(index_dir, META_FILE)
        if not os.path.exists(meta_path):
            raise NotAnIndexError(f"{index_dir} is not a cmir-search index (no {META_FILE}); build one with "
                                    "`cmir-search index DIR --model=... --index=...`")
        with open(meta_path) as f:
            meta = json.load(f)
        self.paths: list[str] = meta["paths"]
        self.model_dir: str = meta["model"]
        self.model_key: str = meta["model_key"]
        self.vectors = np.load(os.path.join(index_dir, VECTORS_FILE))
        self._forest = annoy.AnnoyIndex(int(meta["dim"]), "angular")
        self._forest.load(os.path.join(index_dir, ANNOY_FILE))

    def check_model(self, space: JointSpace) -> None:
        """Raises `ModelMismatchError` unless `space` holds the model the index was built with (same content,
        wherever it is now)."""
        if space.model.fingerprint != self.model_key:
            raise ModelMismatchError(
                f"the index was built with another model (built with {self.model_dir}, {self.model_key[:19]}; "
                f"given {space.model_dir}, {space.model.fingerprint[:19]}): query it with the model it was built "
                "with or rebuild it")

    def nearest(self, vector: np.ndarray, top_k: int = 10, exclude: str | None = None) -> list[tuple[str, float]]:
        """The `top_k` indexed songs most cosine-similar to the (128,) `vector`, best first, as (path, cosine);
        `exclude` (a path) is left out, e.g. the query song itself."""
        ids = self._forest.get_nns_by_vector(np.asarray(vector, np.float32), top_k + 1, search_k=-1)
        if exclude is not None:
            ids = [i for i in ids if self.paths[i] != os.path.abspath(exclude)]
        ids = ids[:top_k]
        cosines = unit_rows(self.vectors[ids]) @ unit_rows(np.asarray(vector)[None])[0] if ids else []
        return [(self.paths[i], float(c)) for i, c in zip(ids, cosines)]


def open_index(index_dir: str, model_dir: str | None = None) -> tuple[AudioIndex, JointSpace]:
    """The index in `index_dir` and the joint space of the model it was built with, or of `model_dir` (the same
    model by content, wherever it is now).

    Raises:
      errors.MissingPathError: no `index_dir`.
      NotAnIndexError, ModelMismatchError: not an index; another model than the index's.
      errors.UsageError: the index's model is gone and no `model_dir` is given.
    """
    index = AudioIndex(errors.require_path(index_dir, "--index"))
    if not model_dir and not os.path.isdir(index.model_dir):
        raise errors.UsageError(f"the model the index was built with is no longer at {index.model_dir}: pass "
                                "--model=DIR (the same model moved or copied elsewhere is accepted)")
    space = JointSpace(ExportedModel(model_dir or index.model_dir))
    index.check_model(space)
    return index, space
