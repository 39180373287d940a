"""Audio files to `.npz` embeddings with an exported model: what `cmir-embed` runs (`embed_files(config)`).

One `.npz` per input (`cmir_tf.audio.files.find_inputs` names them): `chunks` (n_chunks, D) float32, the
vectors of its non-overlapping 4.096 s chunks; `mean` (D,) float32, their mean; `timestamps_ms` (n_chunks,)
float32, the chunk centres in ms from the start of the file (also with `segment="center29.1"`); `output`, the
embedding's name; `model`, the model's fingerprint (`ExportedModel.fingerprint`); `decoder`, the decoder that
read the file (`cmir_tf.audio.decoders`); `segment`.

Files are decoded, resampled and turned into log-mel chunks in blocks, in worker threads a few files ahead of
the model, and the chunks of consecutive files share the model's calls (`cmir_tf.export.chunk_batches`): memory
stays bounded whatever the number and length of the files. Outputs are written atomically with the umask's
permissions. An output that exists already is kept when it holds this model's and this output's vectors (a
rerun resumes); an output folder holding another model's or another output's `.npz` files is refused
(`MixedOutputsError`) unless `overwrite`, which re-embeds every input. Files that cannot be decoded are
skipped and listed; files shorter than one chunk are embedded tiled (`cmir_tf.audio.segments.chunk_mel`),
with a warning, and counted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import zipfile

import numpy as np
from absl import logging
from tqdm import tqdm

from cmir_tf import errors
from cmir_tf.audio import num_frames
from cmir_tf.audio.chunker import file_chunks
from cmir_tf.audio.files import Inputs, find_inputs
from cmir_tf.constants import CHUNK_FRAMES, HOP_LENGTH, SAMPLE_RATE
from cmir_tf.data.atomic import write_npz
from cmir_tf.export.chunk_batches import WORKERS, embed_streams
from cmir_tf.export.exported import OUTPUTS, ExportedModel

SHORT_NAMED = 5  # short files named by a warning; the rest are counted
FRAME_MS = 1000.0 * HOP_LENGTH / SAMPLE_RATE
# Chunks per model call. The encoder's activations take about 20 MB a chunk (CPU, float32), so a call of 128
# would add 2.5 GB to a process of 0.7 GB; on CPUs its throughput is the same from 16 chunks a call on
# (benchmarks/bench_embed_library.py, docs/reuse.md), so 32 keeps cmir-embed near 1.3 GB for any input.
EMBED_BATCH_CHUNKS = 32


class MixedOutputsError(errors.UsageError):
    """The output folder holds `.npz` files of another model or another output."""


@dataclasses.dataclass(frozen=True)
class EmbedConfig:
    """What `embed_files` embeds, with which model, where.

    Attributes:
      model: the exported model's folder.
      inputs: audio files and folders.
      output_dir: the folder of the `.npz` files.
      embedding: "features" (1024-d) or "embedding" (128-d, the joint space).
      segment: "full" or "center29.1" (`cmir_tf.audio.SEGMENT_MODES`).
      batch_size: chunks per model call, gathered across files.
      overwrite: re-embed every input, replacing its output, whatever model wrote it.
      workers: files decoded at once, beside the model.
    """

    model: str
    inputs: tuple[str, ...]
    output_dir: str
    embedding: str = "features"
    segment: str = "full"
    batch_size: int = EMBED_BATCH_CHUNKS
    overwrite: bool = False
    workers: int = WORKERS

    def __post_init__(self):
        if not self.inputs:
            raise errors.UsageError("give audio files or folders to embed")
        if self.embedding not in OUTPUTS:
            raise errors.UsageError(f"embedding must be one of {OUTPUTS}, got {self.embedding!r}")
        if self.batch_size < 1 or self.workers < 1:
            raise errors.UsageError("batch_size and workers must be at least 1")


@dataclasses.dataclass
class Summary:
    """What `embed_files` did."""

    inputs: Inputs
    written: int = 0
    skipped_existing: int = 0
    short: int = 0  # shorter than one chunk: embedded tiled
    failed: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (file, reason)

    def line(self) -> str:
        """The stage line: every count."""
        return (f"{self.written} written, {self.skipped_existing} already present, {len(self.failed)} failed, "
                f"of {len(self.inputs.files)} inputs; {self.short} shorter than one chunk (tiled); "
                f"{len(self.inputs.duplicates)} given twice (embedded once); {self.inputs.skipped_line()}; "
                f"{len(self.inputs.skipped_folders)} folders skipped as already walked (symlinks)")


def _warn_short(source: str, n_samples: int, count: int) -> None:
    """A warning for each of the first `SHORT_NAMED` files shorter than one chunk, then one saying the others
    are counted in the stage line only (a folder of short sound effects would otherwise print a line each)."""
    if count <= SHORT_NAMED:
        logging.warning("%s: %.3g s is shorter than one chunk (4.1 s): its log-mel is tiled to fill one",
                        source, n_samples / SAMPLE_RATE)
    elif count == SHORT_NAMED + 1:
        logging.warning("more files shorter than one chunk: counted in the stage line, not named")


def output_owner(path: str) -> tuple[str, str]:
    """(model fingerprint, output name) an `.npz` of cmir-embed records; ("?", "?") for one that records
    none (older cmir-embed, another program) or cannot be read."""
    try:
        with np.load(path) as saved:
            return str(saved["model"]), str(saved["output"])
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return "?", "?"


def foreign_outputs(output_dir: str, owner: tuple[str, str]) -> list[tuple[str, tuple[str, str]]]:
    """The `.npz` files below `output_dir` (hidden temporaries aside) not written for `owner`, with theirs."""
    found = []
    for folder, _, names in os.walk(output_dir):
        for name in sorted(n for n in names if n.endswith(".npz") and not n.startswith(".")):
            path = os.path.join(folder, name)
            recorded = output_owner(path)
            if recorded != owner:
                found.append((path, recorded))
    return found


def check_output_folder(output_dir: str, owner: tuple[str, str]) -> None:
    """Raises `MixedOutputsError` (one line) when `output_dir` holds outputs of another model or output."""
    foreign = foreign_outputs(output_dir, owner) if os.path.isdir(output_dir) else []
    if foreign:
        path, (model, output) = foreign[0]
        raise MixedOutputsError(
            f"{output_dir} holds {len(foreign)} .npz files of another model or --embedding than "
            f"{owner[0][:19]}... {owner[1]} (e.g. {path}: model {model[:19]}, output {output}); choose another "
            "--output_dir, or pass --overwrite to re-embed every input into it")


def _prepare(output_dir: str) -> None:
    try:
        os.makedirs(output_dir, exist_ok=True)
    except OSError as e:
        raise errors.input_error_from_os(e, output_dir, "create the output folder") from e


def _write(path: str, vectors: np.ndarray, stream, owner: tuple[str, str], segment: str, written: int) -> None:
    """One output, atomically; an OS error (read-only, full) becomes a `PathError` naming it."""
    n_frames = num_frames(stream.n_samples)
    first = np.arange(0, n_frames, CHUNK_FRAMES)
    last = np.minimum(first + CHUNK_FRAMES - 1, n_frames - 1)
    timestamps = ((first + last) * (FRAME_MS / 2) + 1000.0 * stream.start / SAMPLE_RATE).astype(np.float32)
    try:
        write_npz(path, chunks=vectors, mean=vectors.mean(axis=0), timestamps_ms=timestamps,
                  output=np.array(owner[1]), model=np.array(owner[0]), decoder=np.array(stream.decoder),
                  segment=np.array(segment))
    except OSError as e:  # write_npz removed its temporary file
        raise errors.PathError(e.errno, f"cannot write {errors.describe_os_error(e, path)} ({written} outputs "
                                        "written before it are whole; rerun to resume)") from e


def embed_files(config: EmbedConfig) -> Summary:
    """Embeds `config.inputs` into `config.output_dir` (module docstring).

    Raises:
      InputsError, MixedOutputsError, NotACmirModelError, FrontEndMismatchError (usage errors, before any
      output is written); PathError when the output folder cannot be created or an output written (the outputs
      written before it stay whole).
    """
    summary = Summary(find_inputs(config.inputs))
    model = ExportedModel(config.model)
    model.output_dim(config.embedding)
    owner = (model.fingerprint, config.embedding)
    if not config.overwrite:
        check_output_folder(config.output_dir, owner)
    _prepare(config.output_dir)
    todo = {}
    for source, name in summary.inputs.files:
        path = os.path.join(config.output_dir, name)
        if os.path.exists(path) and not config.overwrite:
            summary.skipped_existing += 1
        else:
            todo[source] = path
    tracks = embed_streams(model.chunk_embedder(config.embedding), list(todo),
                           lambda source: file_chunks(source, config.segment), config.batch_size, config.workers)
    with contextlib.closing(tracks), tqdm(tracks, total=len(todo), unit="file", desc="cmir-embed") as progress:
        for source, vectors, stream in progress:
            if isinstance(vectors, Exception):  # AudioDecodeError, NaN/inf samples, unreadable file
                summary.failed.append((source, str(vectors)))
                progress.set_postfix(failed=len(summary.failed))
                continue
            if num_frames(stream.n_samples) < CHUNK_FRAMES:
                summary.short += 1
                _warn_short(source, stream.n_samples, summary.short)
            _write(todo[source], vectors, stream, owner, config.segment, summary.written)
            summary.written += 1
    return summary
