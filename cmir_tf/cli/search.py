"""`cmir-search` (`python -m cmir_tf search`): zero-shot genre tags and song search in the joint space of an
exported contrastive model.

    cmir-search tags FILES... --model=DIR [--top_k=5]        zero-shot genre (and playlist) tags of audio files
    cmir-search index FOLDER --model=DIR --index=OUT         on-disk Annoy index of a folder of audio
    cmir-search genre GN0100 --index=OUT [--top_k=10]        the indexed songs closest to a genre code or name
    cmir-search similar FILE --index=OUT [--top_k=10]        the indexed songs closest to a song
    cmir-search text "드라이브 새벽" --index=OUT [--top_k=10]   the indexed songs closest to playlist tags

`tags` prints, per file, its genre codes (variants trained with genres) and then its playlist tags, each
prefixed with "#" (tag variants, `contr_t` and `contr_cf_g_t`). `text` ranks the indexed songs by the mean of
the query words' tag embeddings; words outside the model's tag vocabulary are named on stderr and skipped.

`genre` and `similar` use the model the index was built with (or `--model`: the same model, by content,
wherever it is now: a moved or copied model queries the index, another one is refused).
Output lines are tab-separated. Exit status: 0 on success, 1 when some audio files could not be decoded
(the others are processed), when the query file of `similar` cannot be decoded (NaN samples, not audio) or
the index cannot be written; 2 for usage errors, including a folder that is not a cmir-tf model, a model
with another front end, another model than the index's, and a model without the needed signature (`tags`
and `genre` need a variant trained with genres, `contr_g` or `contr_cf_g`, or for `tags` one with playlist tags;
`text` a tag variant), and a `text` query with no word in the tag vocabulary. Every error is one line.
"""

from __future__ import annotations

import dataclasses
import os
import sys

from absl import flags

from cmir_tf import errors
from cmir_tf.cli import runner
from cmir_tf.data import playlist_tags
from cmir_tf.audio.files import find_inputs
from cmir_tf.export.exported import ExportedModel
from cmir_tf.joint import JointSpace
from cmir_tf.search import AudioIndex, build_index, open_index

FLAGS = flags.FLAGS
PROGRAM = "cmir-search"


def define_flags() -> None:
    """Declares the flags; called by `run`, not at import, so that importing this module adds no flags."""
    flags.DEFINE_string("model", None, "SavedModel folder (RUN/export) or pretrained:NAME; `tags`, `genre` and "
                        "`text` need a contrastive variant trained here.")
    flags.DEFINE_string("index", None, "Index folder (written by `index`, read by `genre`, `similar` and `text`).")
    flags.DEFINE_integer("top_k", None, "Results per query (default: 5 tags, 10 songs).", lower_bound=1)
    flags.DEFINE_integer("n_trees", 50, "Annoy trees of a new index.", lower_bound=1)
    flags.DEFINE_bool("overwrite", False, "Replace an existing --index folder.")


@dataclasses.dataclass(frozen=True)
class SearchOptions:
    """The flags every sub-command reads."""

    model: str | None
    index: str | None
    top_k: int | None
    n_trees: int
    overwrite: bool

    def need(self, flag: str, command: str) -> str:
        value = getattr(self, flag)
        if not value:
            raise errors.UsageError(f"`{command}` needs --{flag}")
        return value


def _space(model_dir: str) -> JointSpace:
    """The joint space of the model in `model_dir`, opened and checked by `ExportedModel`."""
    return JointSpace(ExportedModel(model_dir))


def _end(failed: list[tuple[str, str]], total: int) -> int:
    """0, or the failed files listed on stderr and the one-line error that ends the command (exit 1)."""
    for path, reason in failed:
        print(f"  failed: {path}: {reason}", file=sys.stderr)
    if failed:
        raise errors.InputError(f"{len(failed)} of {total} audio files could not be used (listed above)")
    return 0


def _print_ranked(ranked: list[tuple[str, float]]) -> int:
    for path, cosine in ranked:
        print(f"{cosine:.3f}\t{path}")
    return 0


def tags(files: list[str], options: SearchOptions) -> int:
    space = _space(options.need("model", "tags"))
    if not space.has_tags:
        space.require("embed_genres", "zero-shot genre tagging (`cmir-search tags`)")
    top_k = options.top_k or 5
    failed = []
    for path, embedding in space.embed_files(files):
        if isinstance(embedding, Exception):
            failed.append((path, str(embedding)))
            continue
        columns = [path]
        if space.has_genres:
            (found,) = space.tags(embedding[None], top_k=top_k)
            columns += [" ".join(filter(None, (t.code, t.name, f"{t.score:.3f}"))) for t in found]
        if space.has_tags:
            columns += [f"#{tag} {score:.3f}" for tag, score in space.top_tags(embedding[None], top_k)[0]]
        print("\t".join(columns))
    return _end(failed, len(files))


def index(folders: list[str], options: SearchOptions) -> int:
    if len(folders) != 1:
        raise errors.UsageError(f"`index` takes one folder of audio, got {folders}")
    if not os.path.isdir(errors.require_path(folders[0], "`index`")):
        raise errors.UsageError(f"`index` takes a folder of audio, got the file {folders[0]}")
    out = options.need("index", "index")
    if os.path.exists(out) and not options.overwrite:
        raise errors.UsageError(f"--index={out} exists; pass --overwrite to replace it")
    inputs = find_inputs(folders)
    paths = [source for source, _ in inputs.files]
    if not paths:
        raise errors.UsageError(f"no audio files below {folders[0]} ({inputs.skipped_unknown} files of other "
                                "extensions)")
    space = _space(options.need("model", "index"))
    summary = build_index(space, paths, out, n_trees=options.n_trees, overwrite=True)
    print(f"{PROGRAM}: indexed {summary.indexed} of {len(paths)} files into {out}; {len(summary.failed)} failed; "
          f"{inputs.skipped_unknown} files skipped (not an audio extension)", file=sys.stderr)
    return _end(summary.failed, len(paths))


def _query(command: str, options: SearchOptions) -> tuple[AudioIndex, JointSpace]:
    return open_index(options.need("index", command), options.model)


def genre(codes: list[str], options: SearchOptions) -> int:
    if len(codes) != 1:
        raise errors.UsageError(f"`genre` takes one genre code, got {codes}")
    found, space = _query("genre", options)
    space.require("embed_genres", "ranking songs for a genre (`cmir-search genre`)")
    code = space.vocabulary.resolve(codes[0])  # a code, or a genre's name (a catalogue's "indie rock")
    if code is None:
        raise errors.UsageError(f"genre {codes[0]!r} is not in the model's vocabulary of "
                                f"{len(space.vocabulary.codes)} codes (e.g. {', '.join(space.vocabulary.codes[:5])})")
    return _print_ranked(found.nearest(space.embed_genres([[code]])[0], options.top_k or 10))


def similar(files: list[str], options: SearchOptions) -> int:
    if len(files) != 1:
        raise errors.UsageError(f"`similar` takes one audio file, got {files}")
    errors.require_path(files[0], "`similar`")
    found, space = _query("similar", options)
    return _print_ranked(found.nearest(space.embed_file(files[0]), options.top_k or 10, exclude=files[0]))


def text(words: list[str], options: SearchOptions) -> int:
    found, space = _query("text", options)
    space.require("embed_tags", "a playlist-tag query (`cmir-search text`)")
    query = playlist_tags.query_words(" ".join(words))
    vocabulary = space.tag_rows
    known, unknown = [w for w in query if w in vocabulary], [w for w in query if w not in vocabulary]
    if not known:
        raise errors.UsageError(f"no word of {' '.join(words)!r} is a playlist tag of the model's vocabulary of "
                                f"{len(vocabulary)} tags (e.g. {', '.join(space.tag_vocabulary[:5])})")
    if unknown:
        print(f"{PROGRAM}: not in the tag vocabulary, skipped: {', '.join(unknown)}", file=sys.stderr)
    return _print_ranked(found.nearest(space.tags_vector(known), options.top_k or 10))


SUBCOMMANDS = {"tags": tags, "index": index, "genre": genre, "similar": similar, "text": text}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in SUBCOMMANDS:
        raise errors.UsageError(f"give a command, one of {', '.join(SUBCOMMANDS)}, then its arguments")
    if len(argv) < 3:
        raise errors.UsageError(f"`{argv[1]}` needs arguments")
    options = SearchOptions(FLAGS.model, FLAGS.index, FLAGS.top_k, FLAGS.n_trees, FLAGS.overwrite)
    return SUBCOMMANDS[argv[1]](argv[2:], options)


def run() -> None:
    """Console entry (`cmir-search`, through `cmir_tf.cli.start`); exits with `main`'s status."""
    define_flags()
    runner.run_main(main, PROGRAM)


if __name__ == "__main__":
    run()
