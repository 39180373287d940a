"""Evaluates an exported audio encoder on the paper's downstream tasks and accumulates the result tables.

  python evaluate.py --task=gtzan|jamendo|playlist|zero_shot|tags|all --model=SAVEDMODEL --name=ContrCF-G \
      [--gtzan_dir=...] [--jamendo_dir=...] [--melon_dir=... --data_dir=...] [--embedding=features]

Writes `<results_dir>/<task>.json` (this run under `--name`), `<results_dir>/<task>.md` (the paper's table over
all names evaluated so far; printed at the end), for GTZAN `gtzan_confusion_<name>.png` and, with the playlist
task, `embedding_map_<name>.png` (t-SNE of the Melon test songs' embeddings, coloured by top-level genre).

A model with the joint-space signatures (contrastive variants) is also evaluated without any probe, on its
128-d joint-space `embedding`: zero-shot GTZAN (a column of Table 1) and zero-shot Melon genre tagging
(`zero_shot`, Table 4) need `embed_genres`; cold-start playlist continuation (columns of Table 3) needs
`embed_cf` and a data folder prepared with the LightFM playlist vectors. The tag variants add zero-shot
playlist-tag retrieval (`tags`, Table 5: needs `embed_tags` and a data folder prepared with playlist tags) and
tag-only cold-start continuation (more columns of Table 3, from the playlist task: needs `embed_tags`). Where
the model lacks the signature, or the data folder the vectors or tags, the cells read "–" (Tables 4 and 5: no
row) and one line says why.

The model is opened once (`cmir_tf.export.exported.ExportedModel`: checked, its SavedModel loaded once) and
shared by every task. Exit status: 0; 1 when an input of the run fails (missing dataset files, named with
their count, undecodable audio, a missing folder or file), 2 for usage errors (flags) and for a model the
user must change (not a cmir-tf export, another front end). Errors are one line on stderr.
"""

import contextlib
import functools
import os
import re
import sys
import tempfile

import numpy as np
from absl import app, flags, logging

from cmir_tf.cli import runner
from cmir_tf.audio import FrontEndMismatchError
from cmir_tf.evaluation import (ProbeConfig, SavedModelEmbedder, evaluate_gtzan, evaluate_jamendo,
                                evaluate_playlists, protocol, results)
from cmir_tf.evaluation.cold_start import PlaylistVectorsMissingError, evaluate_cold_start
from cmir_tf.evaluation.embedding_map import melon_embedding_map
from cmir_tf.evaluation.tags import TagsMissingError, evaluate_tag_cold_start, evaluate_tag_retrieval
from cmir_tf.evaluation.zero_shot import evaluate_gtzan_zero_shot, evaluate_melon_zero_shot
from cmir_tf.export.exported import ExportedModel, MissingSignatureError, NotACmirModelError
from cmir_tf.joint import JointSpace

FLAGS = flags.FLAGS
PROGRAM = "cmir-evaluate"
REQUIRED_DIRS = {"gtzan": ["gtzan_dir"], "jamendo": ["jamendo_dir"], "playlist": ["melon_dir", "data_dir"],
                 "zero_shot": ["melon_dir", "data_dir"], "tags": ["melon_dir", "data_dir"]}
USER_MODEL_ERRORS = (NotACmirModelError, FrontEndMismatchError, MissingSignatureError)  # exit 2
INPUT_ERRORS = (OSError, ValueError)  # missing or undecodable dataset files, unreadable lists: exit 1


def define_flags() -> None:
    """Declares evaluate's flags (once per process); called by `run`, not at import."""
    if "gtzan_melon_map" in FLAGS:
        return
    flags.DEFINE_enum("task", "all", ["gtzan", "jamendo", "playlist", "zero_shot", "tags", "all"],
                      "Downstream task(s).")
    flags.DEFINE_string("model", None, "Exported SavedModel folder, or pretrained:NAME (cmir-pretrained list).")
    flags.DEFINE_string("name", None, "Row name in the result tables, e.g. ContrCF-G.")
    flags.DEFINE_enum("embedding", "features", ["features", "embedding"],
                      "Encoder output: 1024-d CNN features (the authors' downstream choice) or the 128-d embedding.")
    flags.DEFINE_string("results_dir", "results", "Where <task>.json, <task>.md and the confusion PNG go.")
    flags.DEFINE_string("cache_dir", "embedding_cache", "Embedding cache root (per model and dataset); '' = none "
                        "kept (a temporary one for this run, so each song is still embedded once for all tasks).")
    flags.DEFINE_string("gtzan_dir", None, "GTZAN folder with genres/<genre>/<genre>.000NN.{au,wav}.")
    flags.DEFINE_string("gtzan_splits_dir", None, "Other GTZAN split lists (default: the fault-filtered ones).")
    flags.DEFINE_string("jamendo_dir", None, "MTG-Jamendo audio folder the TSVs' PATH column is relative to, or a "
                        "folder with audio/ [and split-0/].")
    flags.DEFINE_string("jamendo_splits_dir", None, "Other autotagging_<category>-<split>.tsv (default: "
                        "<jamendo_dir>/split-0 if present, else the package's split 0).")
    flags.DEFINE_string("melon_dir", None, "Melon folder with train.json [val.json, test.json] and arena_mel/.")
    flags.DEFINE_string("data_dir", None, "Prepared data folder whose splits.json test split gives the candidates.")
    flags.DEFINE_string("test_songs", None, "File of candidate song ids (JSON list or one per line) replacing the "
                        "--data_dir test split, e.g. the test songs of the split the model was trained on.")
    flags.DEFINE_string("gtzan_melon_map", None, "Other GTZAN -> Melon genre-code map for zero-shot GTZAN (JSON "
                        "with a `map` object; default: the package's splits/gtzan_melon/gtzan_to_melon.json).")
    flags.DEFINE_integer("repeats", 10, "Probe trainings with different seeds (GTZAN, MTG-Jamendo).")
    flags.DEFINE_integer("epochs", 200, "Maximum probe epochs (early stopping on validation loss).")
    flags.DEFINE_integer("patience", 10, "Early-stopping patience in epochs.")
    flags.DEFINE_integer("batch_size", 64, "Probe batch size.")
    flags.DEFINE_integer("n_trees", 50, "Annoy trees for playlist continuation.")
    flags.DEFINE_integer("search_k", 2000, "Annoy nodes inspected per query (-1: n_trees * 100).")
    flags.DEFINE_bool("exact", False, "Batched nearest-neighbour search (matrix products) instead of Annoy.")
    flags.DEFINE_enum("search_precision", "auto", ["auto", "float32", "bfloat16"],
                      "Precision of the --exact search's products: float32 is exact; bfloat16 picks a shortlist of "
                      "k + 32 per seed rescored in float32 (about 3x faster on CPUs with native bf16, recall "
                      "measured on --recall_sample seeds; emulated and slower elsewhere); auto: bfloat16 only on "
                      "CPUs with avx512_bf16 or amx_bf16.")
    flags.DEFINE_integer("recall_sample", 1000, "Seeds on which the search's recall@100 against float32 exact "
                         "search is measured (Annoy, or --exact in bfloat16).")
    flags.DEFINE_integer("query_sample", None, "Playlist and cold-start continuation on a seeded sample (--seed) of "
                         "this many query playlists, all test songs staying candidates: a deviation from the paper, "
                         "named in the table caption, for machines without a GPU (fewer seed songs to embed).",
                         lower_bound=1)
    flags.DEFINE_bool("baseline", True, "Also evaluate the random baselines.")
    flags.DEFINE_bool("allow_missing", False, "Skip (and count) missing or undecodable files instead of failing.")
    flags.DEFINE_integer("seed", 0, "First seed; repeat i uses seed + i.")
    flags.DEFINE_bool("embedding_map", True, "With the playlist task, also draw embedding_map_<name>.png: a t-SNE "
                      "map of the Melon test songs' embeddings coloured by top-level genre.")
    flags.mark_flags_as_required(["model", "name"])


def results_png(kind: str) -> str:
    """`<results_dir>/<kind>_<name>.png`, the name made file-safe."""
    return os.path.join(FLAGS.results_dir, f"{kind}_{re.sub(r'[^A-Za-z0-9_.-]', '_', FLAGS.name)}.png")


def test_songs() -> np.ndarray | None:
    """The `--test_songs` candidates (None: the --data_dir test split), for every Melon task."""
    return protocol.read_test_songs(FLAGS.test_songs) if FLAGS.test_songs else None


def run_task(task: str, embedder: SavedModelEmbedder, cache_dir: str) -> dict:
    """One probe task (gtzan, jamendo, playlist) of the model `embedder` embeds with."""
    config = ProbeConfig(epochs=FLAGS.epochs, patience=FLAGS.patience, batch_size=FLAGS.batch_size)
    common = dict(cache_dir=cache_dir, seed=FLAGS.seed, allow_missing=FLAGS.allow_missing)
    if task == "gtzan":
        png = results_png("gtzan_confusion")
        return evaluate_gtzan(embedder, FLAGS.gtzan_dir, config=config, repeats=FLAGS.repeats,
                              baseline=FLAGS.baseline, splits_dir=FLAGS.gtzan_splits_dir, confusion_png=png,
                              **common)
    if task == "jamendo":
        return evaluate_jamendo(embedder, FLAGS.jamendo_dir, config=config, repeats=FLAGS.repeats,
                                baseline=FLAGS.baseline, splits_dir=FLAGS.jamendo_splits_dir, **common)
    warning = protocol.training_split_warning(embedder.model, FLAGS.data_dir, bool(FLAGS.test_songs))
    if warning:
        logging.warning("%s", warning)
    result = evaluate_playlists(embedder, FLAGS.melon_dir, FLAGS.data_dir, exact=FLAGS.exact, n_trees=FLAGS.n_trees,
                                search_k=FLAGS.search_k, recall_sample=FLAGS.recall_sample, test_songs=test_songs(),
                                query_sample=FLAGS.query_sample, precision=FLAGS.search_precision, **common)
    if FLAGS.embedding_map:
        png = results_png("embedding_map")
        result["embedding_map"] = melon_embedding_map(embedder, FLAGS.melon_dir, FLAGS.data_dir, png,
                                                      cache_dir=cache_dir, seed=FLAGS.seed, test_songs=test_songs())
        logging.info("embedding map of %d Melon test songs: %s", result["embedding_map"]["songs"], png)
    return result


class JointSpaceTasks:
    """The probe-free evaluations of the model's joint space (`--embedding` does not apply: always 128-d)."""

    def __init__(self, embedder: SavedModelEmbedder, cache_dir: str):
        self.model = embedder.model
        self.embedder = embedder if embedder.output == "embedding" else None
        self.common = dict(cache_dir=cache_dir, allow_missing=FLAGS.allow_missing)

    @functools.cached_property
    def space(self) -> JointSpace:
        return JointSpace(self.model)

    def _embedder(self) -> SavedModelEmbedder:
        if self.embedder is None:
            self.embedder = SavedModelEmbedder(self.model, output="embedding")
        return self.embedder

    def _missing(self, signature: str, what: str) -> str | None:
        missing = self.model.missing(signature)
        if missing is None:
            return None
        reason = f"{what}: skipped, {missing}"
        print(reason)
        return reason

    def zero_shot(self) -> dict | None:
        """Table 4's result, None (with a printed reason) for a model without genre signatures."""
        if self._missing("embed_genres", "zero-shot Melon genre tagging"):
            return None
        return evaluate_melon_zero_shot(self.space, self._embedder(), FLAGS.melon_dir, FLAGS.data_dir,
                                        seed=FLAGS.seed, test_songs=test_songs(), **self.common)

    def gtzan_column(self) -> dict:
        reason = self._missing("embed_genres", "zero-shot GTZAN")
        if reason:
            return {"skipped_reason": reason}
        return evaluate_gtzan_zero_shot(self.space, self._embedder(), FLAGS.gtzan_dir,
                                        splits_dir=FLAGS.gtzan_splits_dir, map_path=FLAGS.gtzan_melon_map,
                                        **self.common)

    def playlist_columns(self) -> dict:
        reason = self._missing("embed_cf", "cold-start continuation")
        if reason:
            return {"skipped_reason": reason}
        try:
            return evaluate_cold_start(self.space, self._embedder(), FLAGS.melon_dir, FLAGS.data_dir,
                                       seed=FLAGS.seed, test_songs=test_songs(), query_sample=FLAGS.query_sample,
                                       **self.common)
        except PlaylistVectorsMissingError as e:  # data prepared before the playlist vectors were kept
            print(f"cold-start continuation: skipped, {e}")
            return {"skipped_reason": str(e)}

    def tags(self) -> dict | None:
        """Table 5's result; None (with a printed reason) for a model without tag signatures or a data folder
        without playlist tags."""
        if self._missing("embed_tags", "zero-shot playlist-tag retrieval"):
            return None
        try:
            return evaluate_tag_retrieval(self.space, self._embedder(), FLAGS.melon_dir, FLAGS.data_dir,
                                          seed=FLAGS.seed, test_songs=test_songs(), **self.common)
        except TagsMissingError as e:  # data prepared before playlist tags
            print(f"zero-shot playlist-tag retrieval: skipped, {e}")
            return None

    def tag_columns(self) -> dict:
        """Table 3's tag cold-start result, or its `skipped_reason` for a model without tag signatures."""
        reason = self._missing("embed_tags", "tag cold-start continuation")
        if reason:
            return {"skipped_reason": reason}
        return evaluate_tag_cold_start(self.space, self._embedder(), FLAGS.melon_dir, FLAGS.data_dir,
                                       seed=FLAGS.seed, test_songs=test_songs(), query_sample=FLAGS.query_sample,
                                       **self.common)


def evaluate(tasks: list[str]) -> list[str]:
    """Runs `tasks` on `--model`, records each result and returns the Markdown tables."""
    embedder = SavedModelEmbedder(ExportedModel(FLAGS.model), output=FLAGS.embedding)
    with contextlib.ExitStack() as stack:  # no --cache_dir: one for this run, removed at its end
        cache_dir = FLAGS.cache_dir or stack.enter_context(tempfile.TemporaryDirectory(prefix="cmir-embeddings-"))
        return run_tasks(tasks, embedder, cache_dir)


def run_tasks(tasks: list[str], embedder: SavedModelEmbedder, cache_dir: str) -> list[str]:
    """Evaluates and records each task; returns their Markdown tables."""
    joint = JointSpaceTasks(embedder, cache_dir)
    tables = []
    for task in tasks:
        if task in ("zero_shot", "tags"):
            result = joint.zero_shot() if task == "zero_shot" else joint.tags()
            if result is None:
                continue
        else:
            result = run_task(task, embedder, cache_dir)
        if task == "gtzan":
            result["zero_shot"] = joint.gtzan_column()
        elif task == "playlist":
            result["cold_start"] = joint.playlist_columns()
            result["tag_cold_start"] = joint.tag_columns()
        result["model"] = os.path.abspath(embedder.model.model_dir)  # a `pretrained:NAME`'s cached export
        result["model_fingerprint"] = embedder.model.fingerprint
        _, md_path = results.record(FLAGS.results_dir, task, FLAGS.name, result)
        with open(md_path) as f:
            tables.append(f.read())
    return tables


def _fail(error: Exception, status: int) -> None:
    """Ends the run with `error` as one line on stderr (the traceback with --verbosity >= 1)."""
    if FLAGS.verbosity >= 1:
        raise error
    print(f"{PROGRAM}: error: {error}", file=sys.stderr)
    sys.exit(status)


def main(argv: list[str]) -> None:
    """absl main: flags already parsed; argv holds no positional arguments."""
    runner.no_arguments(argv)
    tasks = list(REQUIRED_DIRS) if FLAGS.task == "all" else [FLAGS.task]
    unset = list(dict.fromkeys(f"--{flag}" for task in tasks for flag in REQUIRED_DIRS[task]
                               if not getattr(FLAGS, flag)))
    if unset:
        raise app.UsageError(f"--task={FLAGS.task} needs {', '.join(unset)}")
    try:
        tables = evaluate(tasks)
    except USER_MODEL_ERRORS as e:
        _fail(e, 2)
    except INPUT_ERRORS as e:  # MissingFilesError names the first missing files and their count
        _fail(e, 1)
    print("\n".join(tables))


def run() -> None:
    """Console entry (`cmir-evaluate`, `python evaluate.py`, through `cmir_tf.cli.start`)."""
    define_flags()
    runner.run_main(main, PROGRAM)


if __name__ == "__main__":
    run()
