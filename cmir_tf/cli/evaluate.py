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
shared by every task (code: `cmir_tf.evaluation.run.evaluate_model`, which the ablation also runs). Exit
status: 0; 1 when an input of the run fails (missing dataset files, named with their count, undecodable
audio, a missing folder or file), 2 for usage errors (flags) and for a model the user must change (not a
cmir-tf export, another front end). Errors are one line on stderr.
"""

from __future__ import annotations

import dataclasses

from absl import flags

from cmir_tf import errors
from cmir_tf.cli import runner
from cmir_tf.evaluation import results
from cmir_tf.evaluation.run import TASKS, EvaluationConfig, evaluate_model

FLAGS = flags.FLAGS
PROGRAM = "cmir-evaluate"


def define_flags() -> None:
    """Declares evaluate's flags (once per process); called by `run`, not at import."""
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


def config_from_flags() -> EvaluationConfig:
    """The `EvaluationConfig` of the parsed flags (`--task`, `--results_dir` for the figures, one flag for
    each other field but `jamendo_categories`)."""
    fields = {f.name for f in dataclasses.fields(EvaluationConfig)} - {"tasks", "figures_dir", "jamendo_categories"}
    return EvaluationConfig(tasks=TASKS if FLAGS.task == "all" else (FLAGS.task,), figures_dir=FLAGS.results_dir,
                            **{name: FLAGS[name].value for name in fields})


def main(argv: list[str]) -> None:
    """absl main: flags already parsed; argv holds no positional arguments."""
    runner.no_arguments(argv)
    config = config_from_flags()
    errors.require_writable_dir(FLAGS.results_dir, "--results_dir")
    tables = []
    for task, result in evaluate_model(FLAGS.model, config).items():
        _, md_path = results.record(FLAGS.results_dir, task, FLAGS.name, result)
        with open(md_path) as f:
            tables.append(f.read())
    print("\n".join(tables))


def run() -> None:
    """Console entry (`cmir-evaluate`, `python evaluate.py`, through `cmir_tf.cli.start`)."""
    define_flags()
    runner.run_main(main, PROGRAM)


if __name__ == "__main__":
    run()
