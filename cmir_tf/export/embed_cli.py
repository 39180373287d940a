"""`cmir-embed` (`python -m cmir_tf embed`): audio files to embeddings with an exported SavedModel.

    cmir-embed --model=DIR [--embedding=features|embedding] [--segment=full|center29.1] [--batch_size=128] \
        --output_dir=OUT FILES_OR_DIRS...

Writes one `.npz` per input: `chunks` (n_chunks, D) float32, the vectors of its non-overlapping 4.096 s
chunks, `mean` (D,) float32, their mean, `timestamps_ms` (n_chunks,) float32, the chunk centres inside the
file, and `output`, the embedding's name. A file argument `a/song.mp3` gives `OUT/song.mp3.npz`; a folder
argument `a/music` gives `OUT/music/<path below a/music>.npz` for every audio file below it (by extension),
following symlinked subfolders (a link back into a folder already walked is skipped and counted); files
below a folder whose extension is not an audio one (`cmir_tf.audio.AUDIO_EXTENSIONS`) are skipped and counted.

Files are decoded in parallel and the chunks of consecutive files share the model's `embed_mel` calls
(`cmir_tf.export.chunk_batches`; the log-mel is computed by the same `cmir_tf.audio` code the SavedModel
holds). Outputs are written atomically with the umask's permissions; outputs that already exist are
skipped, so a rerun resumes (and overwrites the temporary file a killed run left). Files that cannot be
decoded are skipped and listed at the end. Exit status: 0 when every input has its output, 1 when some
inputs failed (the others are written) or the output folder cannot be written (read-only, full: one line
naming the path; no half-written file stays), 2 for usage errors (no inputs, a missing path, a folder that
is not a cmir-tf SavedModel, a model with another front end).
"""

from __future__ import annotations

import collections
import dataclasses
import os
import sys
from collections.abc import Iterable

import numpy as np
from absl import flags
from tqdm import tqdm

from cmir_tf.cli import runner
from cmir_tf.audio import AUDIO_EXTENSIONS, SEGMENT_MODES, chunk_centers_ms, load_audio, num_frames, select_segment
from cmir_tf.data.atomic import write_npz
from cmir_tf.export.chunk_batches import BATCH_CHUNKS, WAVEFORM, EmbedChunks, embed_tracks
from cmir_tf.export.exported import ExportedModel

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Declares the flags; called by `run`, not at import, so that importing this module adds no flags."""
    flags.DEFINE_string("model", None, "SavedModel folder written by cmir_tf.export.export_audio_encoder.")
    flags.DEFINE_enum("embedding", "features", ["features", "embedding"], "1024-d features or 128-d embedding.")
    flags.DEFINE_enum("segment", "full", list(SEGMENT_MODES), "Embed the whole file or its centred 29.1 s.")
    flags.DEFINE_integer("batch_size", BATCH_CHUNKS, "Chunks per model call, gathered across files.", lower_bound=1)
    flags.DEFINE_string("output_dir", None, "Folder for the .npz files.")
    flags.mark_flags_as_required(["model", "output_dir"])


@dataclasses.dataclass
class Inputs:
    """What `find_inputs` found: (audio file, output name relative to the output folder) pairs, and the
    folders not walked again because a symlink leads back into a folder already walked (a loop or a second
    path to the same folder), and how many files below the folders were skipped for their extension."""

    files: list[tuple[str, str]]
    skipped_folders: list[str] = dataclasses.field(default_factory=list)
    skipped_unknown: int = 0


def _walk(folder: str) -> tuple[list[str], list[str], int]:
    """Audio files below `folder` (sorted, hidden names skipped, symlinked folders followed), the folders
    skipped because their real path was already walked, and the number of other (not audio) files."""
    found, skipped, seen, unknown = [], [], set(), 0
    pending = [folder]
    while pending:
        current = pending.pop()
        real = os.path.realpath(current)
        if real in seen:
            skipped.append(current)
            continue
        seen.add(real)
        entries = sorted(e for e in os.listdir(current) if not e.startswith("."))
        folders = [os.path.join(current, e) for e in entries if os.path.isdir(os.path.join(current, e))]
        files = [e for e in entries if not os.path.isdir(os.path.join(current, e))]
        audio = [e for e in files if e.lower().endswith(AUDIO_EXTENSIONS)]
        found += [os.path.join(current, e) for e in audio]
        unknown += len(files) - len(audio)
        pending += reversed(folders)
    return sorted(found), skipped, unknown


def find_inputs(paths: Iterable[str]) -> Inputs:
    """The inputs of the file and folder arguments `paths`, in sorted order below each folder.
    Raises `ValueError` for missing paths or name clashes."""
    inputs = Inputs([])
    for path in paths:
        if os.path.isfile(path):
            inputs.files.append((path, os.path.basename(path) + ".npz"))
        elif os.path.isdir(path):
            top = os.path.basename(os.path.abspath(path))
            files, skipped, unknown = _walk(path)
            inputs.files += [(f, os.path.join(top, os.path.relpath(f, path)) + ".npz") for f in files]
            inputs.skipped_folders += skipped
            inputs.skipped_unknown += unknown
        else:
            raise ValueError(f"no such file or folder: {path}")
    clashes = sorted(name for name, count in collections.Counter(name for _, name in inputs.files).items() if count > 1)
    if clashes:
        raise ValueError(f"several inputs would write the same outputs: {clashes[:5]}")
    return inputs


class OutputError(OSError):
    """The output folder cannot be written (read-only, full, not a folder): one line naming the path."""


@dataclasses.dataclass
class Summary:
    """What `embed_files` did."""

    written: int = 0
    skipped_existing: int = 0
    failed: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (file, reason)


def embed_files(inputs: list[tuple[str, str]], output_dir: str, embed_chunks: EmbedChunks, output: str,
                segment: str, batch_size: int) -> Summary:
    """Embeds `inputs` (`find_inputs(...).files`) into `output_dir`, batching chunks across files.
    Raises `OutputError` when an output cannot be written; the outputs written before it stay whole."""
    summary = Summary()
    try:
        os.makedirs(output_dir, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the output folder {output_dir}: {e.strerror or e}") from e
    todo = {}
    for source, name in inputs:
        path = os.path.join(output_dir, name)
        if os.path.exists(path):
            summary.skipped_existing += 1
        else:
            todo[source] = path
    tracks = embed_tracks(embed_chunks, list(todo), lambda source: select_segment(load_audio(source), segment),
                          WAVEFORM, batch_size)
    progress = tqdm(tracks, total=len(todo), unit="file", desc="cmir-embed")
    for source, vectors, n_samples in progress:
        if isinstance(vectors, Exception):  # AudioDecodeError, NaN/inf samples, unreadable file
            summary.failed.append((source, str(vectors)))
            progress.set_postfix(failed=len(summary.failed))
            continue
        try:
            write_npz(todo[source], chunks=vectors, mean=vectors.mean(axis=0),
                     timestamps_ms=chunk_centers_ms(num_frames(n_samples)).numpy(), output=np.array(output))
        except OSError as e:  # read-only or full output folder: write_npz removed its temporary file
            raise OutputError(f"cannot write {todo[source]}: {e.strerror or e} ({summary.written} outputs "
                              "written before it are whole; rerun to resume)") from e
        summary.written += 1
    return summary


def main(argv: list[str]) -> int:
    try:
        if not argv[1:]:
            raise ValueError("give audio files or folders to embed")
        inputs = find_inputs(argv[1:])
        model = ExportedModel(FLAGS.model)
    except ValueError as e:  # also NotACmirModelError, FrontEndMismatchError
        print(f"cmir-embed: error: {e}", file=sys.stderr)
        return 2
    try:
        summary = embed_files(inputs.files, FLAGS.output_dir, model.chunk_embedder(FLAGS.embedding),
                              FLAGS.embedding, FLAGS.segment, FLAGS.batch_size)
    except OutputError as e:
        print(f"cmir-embed: error: {e}", file=sys.stderr)
        return 1
    print(
        f"cmir-embed: {summary.written} written, {summary.skipped_existing} already present, "
        f"{len(summary.failed)} failed, of {len(inputs.files)} inputs; "
        f"{inputs.skipped_unknown} files skipped (not an audio extension); "
        f"{len(inputs.skipped_folders)} folders skipped as already walked (symlinks)",
        file=sys.stderr,
    )
    for source, reason in summary.failed:
        print(f"  failed: {source}: {reason}", file=sys.stderr)
    for link in inputs.skipped_folders:
        print(f"  skipped folder (a symlink to a folder already walked): {link}", file=sys.stderr)
    return 1 if summary.failed else 0


def run() -> None:
    """Console entry (`cmir-embed`, through `cmir_tf.cli.start`); exits with `main`'s status."""
    define_flags()
    runner.run_main(main, "cmir-embed")


if __name__ == "__main__":
    run()
