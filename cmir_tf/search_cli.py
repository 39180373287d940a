"""`cmir-search` (`python -m cmir_tf search`): zero-shot genre tags and song search in the joint space of an
exported contrastive model.

    cmir-search tags FILES... --model=DIR [--top_k=5]        zero-shot genre (and playlist) tags of audio files
    cmir-search index FOLDER --model=DIR --index=OUT         on-disk Annoy index of a folder of audio
    cmir-search genre GN0100 --index=OUT [--top_k=10]        the indexed songs closest to a genre code
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

import os
import sys

from absl import flags

from cmir_tf.cli import runner
from cmir_tf.audio import FrontEndMismatchError
from cmir_tf.data import playlist_tags
from cmir_tf.data.lock import DirectoryLockedError
from cmir_tf.audio.files import find_inputs
from cmir_tf.export.exported import ExportedModel, NotACmirModelError
from cmir_tf.joint import JointSpace, MissingSignatureError
from cmir_tf.search import AudioIndex, ModelMismatchError, build_index

FLAGS = flags.FLAGS
COMMANDS = ("tags", "index", "genre", "similar", "text")


def define_flags() -> None:
    """Declares the flags; called by `run`, not at import, so that importing this module adds no flags."""
    flags.DEFINE_string("model", None, "SavedModel folder of a contrastive variant (RUN/export).")
    flags.DEFINE_string("index", None, "Index folder (written by `index`, read by `genre`, `similar` and `text`).")
    flags.DEFINE_integer("top_k", None, "Results per query (default: 5 tags, 10 songs).", lower_bound=1)
    flags.DEFINE_integer("n_trees", 50, "Annoy trees of a new index.", lower_bound=1)
    flags.DEFINE_bool("overwrite", False, "Replace an existing --index folder.")


class UsageError(ValueError):
    """A mistake in the command line or a model unfit for the command: exit status 2."""


class InputError(ValueError):
    """An input file that cannot be used (undecodable, NaN samples) or an index that cannot be written: exit 1."""


def _need(flag: str, command: str) -> str:
    value = getattr(FLAGS, flag)
    if not value:
        raise UsageError(f"`{command}` needs --{flag}")
    return value


def _space(model_dir: str) -> JointSpace:
    """The joint space of the model in `model_dir`, opened and checked by `ExportedModel`."""
    return JointSpace(ExportedModel(model_dir))


def _print_failed(failed: list[tuple[str, str]]) -> int:
    for path, reason in failed:
        print(f"cmir-search: failed: {path}: {reason}", file=sys.stderr)
    return 1 if failed else 0


def tags(files: list[str]) -> int:
    space = _space(_need("model", "tags"))
    if not space.has_tags:
        space.require("embed_genres", "zero-shot genre tagging (`cmir-search tags`)")
    top_k = FLAGS.top_k or 5
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
    return _print_failed(failed)


def index(folders: list[str]) -> int:
    if len(folders) != 1 or not os.path.isdir(folders[0]):
        raise UsageError(f"`index` takes one folder of audio, got {folders}")
    out = _need("index", "index")
    if os.path.exists(out) and not FLAGS.overwrite:
        raise UsageError(f"--index={out} exists; pass --overwrite to replace it")
    inputs = find_inputs(folders)
    paths = [source for source, _ in inputs.files]
    if not paths:
        raise UsageError(f"no audio files below {folders[0]} ({inputs.skipped_unknown} files of other extensions)")
    space = _space(_need("model", "index"))
    try:
        summary = build_index(space, paths, out, n_trees=FLAGS.n_trees, overwrite=True)
    except OSError as e:  # read-only or full location: nothing half-written (the index is renamed into place)
        raise InputError(f"cannot write the index {out}: {e.strerror or e}") from e
    except ValueError as e:  # no file could be embedded
        raise InputError(str(e)) from e
    print(f"cmir-search: indexed {summary.indexed} of {len(paths)} files into {out}; {len(summary.failed)} failed; "
          f"{inputs.skipped_unknown} files skipped (not an audio extension)", file=sys.stderr)
    return _print_failed(summary.failed)


def _query(command: str) -> tuple[AudioIndex, JointSpace]:
    index_dir = _need("index", command)
    if not os.path.isdir(index_dir):
        raise UsageError(f"--index={index_dir}: no such index folder")
    try:
        found = AudioIndex(index_dir)
    except FileNotFoundError as e:
        raise UsageError(str(e)) from e
    if not FLAGS.model and not os.path.isdir(found.model_dir):
        raise UsageError(f"the model the index was built with is no longer at {found.model_dir}: pass --model=DIR "
                         "(the same model moved or copied elsewhere is accepted)")
    space = _space(FLAGS.model or found.model_dir)
    found.check_model(space)
    return found, space


def genre(codes: list[str]) -> int:
    if len(codes) != 1:
        raise UsageError(f"`genre` takes one genre code, got {codes}")
    found, space = _query("genre")
    space.require("embed_genres", "ranking songs for a genre (`cmir-search genre`)")
    if codes[0] not in space.vocabulary.codes:
        raise UsageError(f"genre code {codes[0]!r} is not in the model's vocabulary of {len(space.vocabulary.codes)} "
                         f"codes (e.g. {', '.join(space.vocabulary.codes[:5])})")
    for path, cosine in found.nearest(space.embed_genres([codes])[0], FLAGS.top_k or 10):
        print(f"{cosine:.3f}\t{path}")
    return 0


def similar(files: list[str]) -> int:
    if len(files) != 1 or not os.path.isfile(files[0]):
        raise UsageError(f"`similar` takes one audio file, got {files}")
    found, space = _query("similar")
    try:
        query = space.embed_file(files[0])
    except (ValueError, OSError) as e:  # undecodable, NaN samples, peak above 4
        raise InputError(str(e)) from e
    for path, cosine in found.nearest(query, FLAGS.top_k or 10, exclude=files[0]):
        print(f"{cosine:.3f}\t{path}")
    return 0


def text(words: list[str]) -> int:
    found, space = _query("text")
    space.require("embed_tags", "a playlist-tag query (`cmir-search text`)")
    query = playlist_tags.query_words(" ".join(words))
    vocabulary = space.tag_rows
    known, unknown = [w for w in query if w in vocabulary], [w for w in query if w not in vocabulary]
    if not known:
        raise UsageError(f"no word of {' '.join(words)!r} is a playlist tag of the model's vocabulary of "
                         f"{len(vocabulary)} tags (e.g. {', '.join(space.tag_vocabulary[:5])})")
    if unknown:
        print(f"cmir-search: not in the tag vocabulary, skipped: {', '.join(unknown)}", file=sys.stderr)
    for path, cosine in found.nearest(space.tags_vector(known), FLAGS.top_k or 10):
        print(f"{cosine:.3f}\t{path}")
    return 0


def main(argv: list[str]) -> int:
    try:
        if len(argv) < 2 or argv[1] not in COMMANDS:
            raise UsageError(f"give a command, one of {', '.join(COMMANDS)}, then its arguments")
        if len(argv) < 3:
            raise UsageError(f"`{argv[1]}` needs arguments")
        return {"tags": tags, "index": index, "genre": genre, "similar": similar, "text": text}[argv[1]](argv[2:])
    except (UsageError, MissingSignatureError, NotACmirModelError, FrontEndMismatchError, ModelMismatchError,
            DirectoryLockedError) as e:
        print(f"cmir-search: error: {e}", file=sys.stderr)
        return 2
    except InputError as e:
        print(f"cmir-search: error: {e}", file=sys.stderr)
        return 1


def run() -> None:
    """Console entry (`cmir-search`, through `cmir_tf.cli.start`); exits with `main`'s status."""
    define_flags()
    runner.run_main(main, "cmir-search")


if __name__ == "__main__":
    run()
