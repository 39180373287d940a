"""`cmir-embed` (`python -m cmir_tf embed`): audio files to embeddings with an exported SavedModel.

    cmir-embed --model=DIR [--embedding=features|embedding] [--segment=full|center29.1] [--batch_size=32] \
        [--overwrite] --output_dir=OUT FILES_OR_DIRS...

Writes one `.npz` per input (`cmir_tf.export.embed_files`): `chunks` (n_chunks, D) float32, the vectors of its
non-overlapping 4.096 s chunks, `mean` (D,), their mean, `timestamps_ms` (n_chunks,), the chunk centres in ms
from the start of the file (with --segment=center29.1 too), `output` (the embedding's name), `model` (the
model's fingerprint), `decoder` (libsndfile or FFmpeg, and the format) and `segment`. A file argument
`a/song.mp3` gives `OUT/song.mp3.npz`; a folder argument `a/music` gives `OUT/music/<path below a/music>.npz`
for every audio file below it, following symlinked subfolders; a file given twice (also inside a folder given)
is embedded once. Audio: everything libsndfile reads (wav, flac, ogg, opus, mp3, aiff, ...) and, through
FFmpeg, m4a/mp4 (AAC, ALAC), wma, webm/mka, ac3, wv, ape; files of other extensions below a folder are skipped
and counted by extension. Any length: files are decoded in blocks, at bounded memory.

A rerun resumes: outputs of this model and --embedding that exist are kept. An output folder holding outputs of
another model or --embedding is refused unless --overwrite (which re-embeds every input). Files shorter than
one chunk are embedded tiled, with a warning, and counted. Exit status: 0 when every input has its output, 1
when some inputs failed (listed, the others written, then one error line counting them), an input path does not
exist, or the output folder cannot be written (read-only, full: one line naming the path; no half-written file
stays), 2 for usage errors (no inputs, a folder that is not a cmir-tf SavedModel, a model with another front
end, an output folder of another model).
"""

from __future__ import annotations

import sys

from absl import flags

from cmir_tf import errors
from cmir_tf.audio import SEGMENT_MODES
from cmir_tf.cli import runner
from cmir_tf.export.chunk_batches import WORKERS
from cmir_tf.export.embed_files import EMBED_BATCH_CHUNKS, EmbedConfig, embed_files

PROGRAM = "cmir-embed"
FLAGS = flags.FLAGS


def define_flags() -> None:
    flags.DEFINE_string("model", None, "Exported SavedModel folder (RUN/export), or pretrained:NAME (cmir-pretrained "
                        "list).")
    flags.DEFINE_enum("embedding", "features", ["features", "embedding"], "1024-d features or 128-d embedding.")
    flags.DEFINE_enum("segment", "full", list(SEGMENT_MODES), "Embed the whole file or its centred 29.1 s.")
    flags.DEFINE_integer("batch_size", EMBED_BATCH_CHUNKS, "Chunks per model call, gathered across files (about "
                         "20 MB of memory each).", lower_bound=1)
    flags.DEFINE_integer("workers", WORKERS, "Files decoded at once, beside the model.", lower_bound=1)
    flags.DEFINE_bool("overwrite", False, "Re-embed every input, replacing outputs of any model in --output_dir.")
    flags.DEFINE_string("output_dir", None, "Folder for the .npz files.")
    flags.mark_flags_as_required(["model", "output_dir"])


def main(argv: list[str]) -> int:
    config = EmbedConfig(model=FLAGS.model, inputs=tuple(argv[1:]), output_dir=FLAGS.output_dir,
                         embedding=FLAGS.embedding, segment=FLAGS.segment, batch_size=FLAGS.batch_size,
                         overwrite=FLAGS.overwrite, workers=FLAGS.workers)
    summary = embed_files(config)
    print(f"{PROGRAM}: {summary.line()}", file=sys.stderr)
    for source, reason in summary.failed:
        print(f"  failed: {source}: {reason}", file=sys.stderr)
    for link in summary.inputs.skipped_folders:
        print(f"  skipped folder (a symlink to a folder already walked): {link}", file=sys.stderr)
    if summary.failed:
        raise errors.InputError(f"{len(summary.failed)} of {len(summary.inputs.files)} inputs could not be "
                                "embedded (listed above; the others are written)")
    return 0


def run() -> None:
    """Console entry (`cmir-embed`, through `cmir_tf.cli.start`)."""
    define_flags()
    runner.run_main(main, PROGRAM)


if __name__ == "__main__":
    run()
