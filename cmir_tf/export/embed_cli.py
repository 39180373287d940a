"""`cmir-embed`: audio files to embeddings with an exported SavedModel.

    cmir-embed --model=DIR [--embedding=features|embedding] [--segment=full|center29.1] [--batch_size=32] \
        --output_dir=OUT FILES_OR_DIRS...

Writes one `.npz` per input: `chunks` (n_chunks, D) float32, the vectors of its non-overlapping 4.096 s
chunks, `mean` (D,) float32, their mean, `timestamps_ms` (n_chunks,) float32, the chunk centres, and `output`,
the embedding's name. A file argument `a/song.mp3` gives `OUT/song.mp3.npz`; a folder argument `a/music`
gives `OUT/music/<path below a/music>.npz` for every audio file below it (by extension).

Chunks of consecutive files are batched together through the model's `embed_mel` signature (the log-mel is
computed here, by the same `cmir_tf.audio` code the SavedModel holds). Files are written atomically; outputs
that already exist are skipped, so a rerun resumes. Files that cannot be decoded are skipped and listed at
the end. Exit status: 0 when every input has its output, 1 when some inputs failed (the others are written).
"""

from __future__ import annotations

import collections
import dataclasses
import os
import sys
import tempfile
from collections.abc import Callable, Iterable

import numpy as np
import tensorflow as tf
from absl import app, flags
from tqdm import tqdm

from cmir_tf.audio import (
    AUDIO_EXTENSIONS,
    FrontEndMismatchError,
    SEGMENT_MODES,
    chunk_centers_ms,
    check_front_end,
    chunk_mel,
    load_audio,
    log_mel_spectrogram,
    select_segment,
)

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Declares the flags; called by `main`, not at import, so that importing this module adds no flags."""
    flags.DEFINE_string("model", None, "SavedModel folder written by cmir_tf.export.export_audio_encoder.")
    flags.DEFINE_enum("embedding", "features", ["features", "embedding"], "1024-d features or 128-d embedding.")
    flags.DEFINE_enum("segment", "full", list(SEGMENT_MODES), "Embed the whole file or its centred 29.1 s.")
    flags.DEFINE_integer("batch_size", 32, "Chunks per model call, gathered across files.", lower_bound=1)
    flags.DEFINE_string("output_dir", None, "Folder for the .npz files.")
    flags.mark_flags_as_required(["model", "output_dir"])


EmbedMel = Callable[[np.ndarray], np.ndarray]  # (B, 256, 48) log-mel -> (B, D)


@tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
def _waveform_chunks(waveform: tf.Tensor) -> tf.Tensor:
    """(n,) 16 kHz waveform -> (n_chunks, 256, 48) log-mel chunks, as `embed_waveform` cuts them."""
    return chunk_mel(log_mel_spectrogram(waveform))


def find_inputs(paths: Iterable[str]) -> list[tuple[str, str]]:
    """(audio file, output name relative to the output folder) for each file argument and each audio file
    below each folder argument, in sorted order. Raises `ValueError` for missing paths or name clashes."""
    found = []
    for path in paths:
        if os.path.isfile(path):
            found.append((path, os.path.basename(path) + ".npz"))
        elif os.path.isdir(path):
            top = os.path.basename(os.path.abspath(path))
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if name.lower().endswith(AUDIO_EXTENSIONS) and not name.startswith("."):
                        source = os.path.join(root, name)
                        found.append((source, os.path.join(top, os.path.relpath(source, path)) + ".npz"))
        else:
            raise ValueError(f"no such file or folder: {path}")
    clashes = sorted(name for name, count in collections.Counter(name for _, name in found).items() if count > 1)
    if clashes:
        raise ValueError(f"several inputs would write the same outputs: {clashes[:5]}")
    return found


def save_npz_atomic(path: str, **arrays: np.ndarray) -> None:
    """`np.savez` to a temporary file in the same folder, then renamed onto `path`."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(handle, "wb") as f:
            np.savez(f, **arrays)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


@dataclasses.dataclass
class Summary:
    """What `embed_files` did."""

    written: int = 0
    skipped_existing: int = 0
    failed: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (file, reason)


def load_embed_mel(model_dir: str, output: str) -> tuple[EmbedMel, object]:
    """The SavedModel's `embed_mel` as a numpy function (and the loaded object that keeps it alive).
    Raises `FrontEndMismatchError` (a `ValueError`) when the model's front end is not this package's."""
    check_front_end(model_dir)
    loaded = tf.saved_model.load(model_dir)
    signature = loaded.signatures["embed_mel"]
    return (lambda mel: signature(mel=tf.constant(mel))[output].numpy()), loaded


def embed_files(
    inputs: list[tuple[str, str]], output_dir: str, embed_mel: EmbedMel, output: str, segment: str, batch_size: int
) -> Summary:
    """Embeds `inputs` (from `find_inputs`) into `output_dir`, batching chunks across files."""
    summary = Summary()
    pending: list[tuple[str, np.ndarray]] = []  # (output path, chunks) awaiting the model

    def flush() -> None:
        chunks = np.concatenate([c for _, c in pending])
        vectors = np.concatenate([embed_mel(chunks[i : i + batch_size]) for i in range(0, len(chunks), batch_size)])
        ends = np.cumsum([len(c) for _, c in pending])
        for (path, _), file_vectors in zip(pending, np.split(vectors, ends[:-1])):
            centres = chunk_centers_ms(len(file_vectors)).numpy()
            save_npz_atomic(
                path, chunks=file_vectors, mean=file_vectors.mean(axis=0), timestamps_ms=centres, output=output
            )
            summary.written += 1
        pending.clear()

    progress = tqdm(inputs, unit="file", desc="cmir-embed")
    for source, name in progress:
        path = os.path.join(output_dir, name)
        if os.path.exists(path):
            summary.skipped_existing += 1
            continue
        try:
            waveform = select_segment(load_audio(source), segment)
        except (ValueError, OSError) as e:  # AudioDecodeError, NaN/inf samples, unreadable file
            summary.failed.append((source, str(e)))
            progress.set_postfix(failed=len(summary.failed))
            continue
        pending.append((path, _waveform_chunks(waveform).numpy()))
        if sum(len(c) for _, c in pending) >= batch_size:
            flush()
    if pending:
        flush()
    return summary


def _main(argv: list[str]) -> int:
    paths = argv[1:]
    if not paths:
        raise app.UsageError("give audio files or folders to embed")
    try:
        inputs = find_inputs(paths)
    except ValueError as e:
        raise app.UsageError(str(e)) from e
    try:
        embed_mel, _loaded = load_embed_mel(FLAGS.model, FLAGS.embedding)
    except FrontEndMismatchError as e:
        raise app.UsageError(str(e), exitcode=2) from e
    summary = embed_files(inputs, FLAGS.output_dir, embed_mel, FLAGS.embedding, FLAGS.segment, FLAGS.batch_size)
    print(
        f"cmir-embed: {summary.written} written, {summary.skipped_existing} already present, "
        f"{len(summary.failed)} failed, of {len(inputs)} inputs",
        file=sys.stderr,
    )
    for source, reason in summary.failed:
        print(f"  failed: {source}: {reason}", file=sys.stderr)
    return 1 if summary.failed else 0


def main() -> None:
    """Console-script entry point (`cmir-embed`); exits with `_main`'s status."""
    define_flags()
    app.run(_main)


if __name__ == "__main__":
    main()
