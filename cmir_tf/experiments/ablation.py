"""The paper's ablation, six variants -> Tables 1-3, the claims table, a figure and `ablation.json`
(command: `cmir-ablation`, `cmir_tf.cli.ablation`).

  cmir-ablation --output_dir=ablation_run            # on the demo corpus
  cmir-ablation --variants=all --seeds=3 ...          # + intra-modal and playlist-tag variants
  cmir-ablation --variants=contr_cf_g,contr_t,contr_cf_g_t ...   # the tag variants beside ContrCF-G
  cmir-ablation --output_dir=runs/ablation --data_dir=/data/melon_prepared \
      --melon_dir=/data/melon --gtzan_dir=/data/gtzan --jamendo_dir=/data/mtg-jamendo --epochs=400 ...

Every variant trains with the same seeds, budget and precision (`TrainConfig`, in-process); an untrained
encoder (random initialisation, same seeds) is the reference row. Each export is evaluated by
`cmir_tf.evaluation.run.evaluate_model`, the same entry as `cmir-evaluate`, on every task with `--repeats`
probe repeats: GTZAN, MTG-Jamendo and playlist continuation for every row, and where the model has the
joint-space signatures the zero-shot GTZAN column, zero-shot Melon genre tagging (Table 4) and the cold-start
columns; the untrained run also measures the random baselines. Models with the tag signatures (the opt-in tag
variants `contr_t`, `contr_cf_g_t`) are also evaluated on zero-shot tag retrieval (Table 5) and tag-only cold
start (columns of Table 3), whose random baselines come from the first such row. Output folder:

  corpus/, prepared/              the demo corpus and its TFRecords (demo mode only)
  models/<row>-seed<k>/           model_dir of each training run (export/ = the SavedModel)
  runs/<row>-seed<k>.json         that export's evaluation (what a rerun reuses)
  embedding_cache/                embeddings per model and dataset
  ablation.json, tables.md, claims.md (the Results section's claims, `claims.py`), ablation.png

A rerun skips finished trainings, exports, evaluations and cached embeddings, and resumes an interrupted
training from its checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from typing import TYPE_CHECKING


from cmir_tf import errors
from cmir_tf.constants import ALL_VARIANTS, VARIANTS
from cmir_tf.data.atomic import atomic_write
from cmir_tf.data.prepared import PreparedFolder
from cmir_tf.experiments import claims, report, summary

if TYPE_CHECKING:  # the evaluation loads TensorFlow: imported where used
    from cmir_tf.evaluation.run import EvaluationConfig

UNTRAINED = "untrained"
DEMO_PREPARE = dict(word2vec_dim=64, songs_per_shard=500)  # as `make demo`
DATA_FLAGS = ("data_dir", "melon_dir", "gtzan_dir", "jamendo_dir")


@dataclasses.dataclass(frozen=True)
class AblationConfig:
    """What the ablation depends on. Empty data folders: the demo corpus, generated under `output_dir`."""

    output_dir: str
    data_dir: str = ""  # prepared TFRecords (training; its splits.json test split = playlist candidates)
    melon_dir: str = ""
    gtzan_dir: str = ""
    jamendo_dir: str = ""
    gtzan_splits_dir: str | None = None
    variants: tuple[str, ...] = VARIANTS
    seeds: int = 1
    batch_size: int = 32
    epochs: int = 3
    steps_per_epoch: int = 25
    validation_steps: int = 4
    learning_rate: float = 3e-4
    precision: str = "float32"
    repeats: int = 10
    probe_epochs: int = 60
    jamendo_categories: tuple[str, ...] = summary.JAMENDO_CATEGORIES
    embedding: str = "features"

    def __post_init__(self):
        given = [getattr(self, f) for f in DATA_FLAGS]
        if any(given) and not all(given):
            raise errors.ConfigError(f"give all of {', '.join('--' + f for f in DATA_FLAGS)} or none (demo corpus)")
        for name in (*DATA_FLAGS, "gtzan_splits_dir"):
            if getattr(self, name):
                errors.require_path(getattr(self, name), f"--{name}")
        unknown = set(self.variants) - set(ALL_VARIANTS)
        if unknown or not self.variants:
            raise errors.ConfigError(f"variants must be a non-empty subset of {ALL_VARIANTS}, got {self.variants}")
        if not self.jamendo_categories or set(self.jamendo_categories) - set(summary.JAMENDO_CATEGORIES):
            raise errors.ConfigError(f"jamendo_categories must be a non-empty subset of {summary.JAMENDO_CATEGORIES}")
        if self.seeds < 1 or self.repeats < 1:
            raise errors.ConfigError("seeds and repeats must be >= 1")

    @property
    def demo(self) -> bool:
        return not self.data_dir

    def path(self, *parts: str) -> str:
        return os.path.join(self.output_dir, *parts)

    def data(self) -> dict[str, str]:
        """The four data folders (the demo corpus's when none are given)."""
        if not self.demo:
            return {f: getattr(self, f) for f in DATA_FLAGS}
        corpus = self.path("corpus")
        return {"data_dir": self.path("prepared"), "melon_dir": os.path.join(corpus, "melon"),
                "gtzan_dir": os.path.join(corpus, "gtzan"), "jamendo_dir": os.path.join(corpus, "mtg-jamendo")}


def _stage(message: str) -> None:
    print(f"[ablation] {message}", flush=True)


def _write_json(path: str, content: dict) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(content, indent=1).encode()))


def check_same_settings(config: AblationConfig) -> None:
    """Records the settings in `output_dir/settings.json`, or raises ValueError if a previous run used others
    (its finished rows would be reused under the new settings). Variants and seeds may grow."""
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in ("output_dir", "variants", "seeds")}
    settings = json.loads(json.dumps(settings))  # tuples as JSON lists, as read back
    path = config.path("settings.json")
    if os.path.exists(path):
        with open(path) as f:
            previous = json.load(f)
        changed = sorted(k for k in settings if previous.get(k) != settings[k])
        if changed:
            raise errors.ConfigError(f"{config.output_dir} holds a run with other settings ({', '.join(changed)}); "
                             "use another --output_dir or the same flags")
    else:
        _write_json(path, settings)


def prepare_demo(config: AblationConfig) -> None:
    """Generates and prepares the demo corpus unless already there (both steps are atomic / resumable)."""
    from cmir_tf.data import prepare
    from cmir_tf.synthetic.corpus import generate

    data = config.data()
    if not os.path.exists(config.path("corpus", "corpus.json")):
        start = time.perf_counter()
        generate(config.path("corpus"), workers=os.cpu_count() or 1)
        _stage(f"demo corpus generated in {time.perf_counter() - start:.0f} s")
    folder = PreparedFolder(data["data_dir"])
    if not (folder.is_prepared() and os.path.exists(folder.partners_path)):
        start = time.perf_counter()
        prepare.prepare(prepare.PrepareConfig(data["melon_dir"], data["data_dir"], **DEMO_PREPARE))
        _stage(f"demo corpus prepared in {time.perf_counter() - start:.0f} s")


def export_dir(config: AblationConfig, row: str, seed: int) -> str:
    return config.path("models", f"{row}-seed{seed}", "export")


def train_row(config: AblationConfig, row: str, seed: int) -> None:
    """Trains variant `row` with `seed` (or exports the untrained encoder) unless its export is finished."""
    import keras

    from cmir_tf.export.saved_model import export_audio_encoder
    from cmir_tf.models import build_audio_encoder
    from cmir_tf.training import TrainConfig, train
    from cmir_tf.training.global_state import global_state_kept

    done = config.path("models", f"{row}-seed{seed}", "done.json")
    if os.path.exists(done):
        return
    start = time.perf_counter()
    with global_state_kept():  # the seeds and policy set here, and clear_session's reset of them, stay inside
        if row == UNTRAINED:
            keras.utils.set_random_seed(seed)
            keras.mixed_precision.set_global_policy(config.precision)
            export_audio_encoder(build_audio_encoder(), export_dir(config, row, seed),
                                 {"variant": UNTRAINED, "seed": seed}, overwrite=True)
            result = {"steps": 0}
        else:
            result = train(TrainConfig(
                variant=row, data_dir=config.data()["data_dir"],
                model_dir=os.path.dirname(export_dir(config, row, seed)), batch_size=config.batch_size,
                learning_rate=config.learning_rate, epochs=config.epochs, steps_per_epoch=config.steps_per_epoch,
                validation_steps=config.validation_steps, seed=seed, precision=config.precision,
                log_every=max(1, config.steps_per_epoch // 5)))
        keras.backend.clear_session()
    result["seconds"] = time.perf_counter() - start
    _write_json(done, result)
    _stage(f"{row} seed {seed}: {result['steps']} steps, exported in {result['seconds']:.0f} s")


def evaluation_config(config: AblationConfig, row: str) -> EvaluationConfig:
    """The evaluation of every row: all tasks, with `cmir-evaluate`'s defaults but the ablation's repeats,
    probe epochs, Jamendo categories and output; the random baselines with the untrained row only."""
    from cmir_tf.evaluation.run import EvaluationConfig

    return EvaluationConfig(embedding=config.embedding, cache_dir=config.path("embedding_cache"),
                            gtzan_splits_dir=config.gtzan_splits_dir, jamendo_categories=config.jamendo_categories,
                            repeats=config.repeats, epochs=config.probe_epochs, baseline=row == UNTRAINED,
                            **config.data())


def evaluate_row(config: AblationConfig, row: str, seed: int) -> dict:
    """The results of one export (`evaluate_model`, cached in runs/<row>-seed<k>.json): every row has gtzan,
    jamendo and playlist; the zero-shot and cold-start ones where the model has the signatures; `tags` and
    `tag_cold_start` (summary.TAG_TASKS) for a model with the tag signatures."""
    path = config.path("runs", f"{row}-seed{seed}.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    from cmir_tf.evaluation.run import evaluate_model

    start = time.perf_counter()
    result = evaluate_model(export_dir(config, row, seed), evaluation_config(config, row))
    tag_cold_start = result["playlist"].pop("tag_cold_start")
    if "skipped_reason" not in tag_cold_start:
        result["tag_cold_start"] = tag_cold_start
    result["seconds"] = time.perf_counter() - start
    _write_json(path, result)
    _stage(f"{row} seed {seed}: evaluated in {result['seconds']:.0f} s (GTZAN "
           f"{result['gtzan']['accuracy']['mean']:.3f}, NDCG@100 {result['playlist']['ndcg@100']:.4f})")
    return result


def write_outputs(config: AblationConfig, runs: dict[str, list[dict]], seconds: float) -> dict:
    """Summarises the evaluated rows into ablation.json, tables.md and ablation.png; returns ablation.json."""
    runs = {row: [{t: r[t] for t in (*summary.TASKS, *summary.TAG_TASKS) if t in r} for r in row_runs]
            for row, row_runs in runs.items()}
    summaries = {row: summary.summarize(row_runs) for row, row_runs in runs.items()}
    summaries["random"] = summary.summarize_random(runs[UNTRAINED])
    tagged = next((row_runs for row_runs in runs.values() if "tags" in row_runs[0]), None)
    if tagged:  # the untrained encoder has no tag encoder: the same random scores / ranking of a tag row
        random = summary.summarize_random(tagged)
        summaries["random"].update({t: random[t] for t in summary.TAG_TASKS})
    checks = claims.check_claims(summaries)
    result = {**summaries, "claims": [dataclasses.asdict(c) for c in checks], "config": dataclasses.asdict(config),
              "data": config.data(), "seconds": seconds}
    _write_json(config.path("ablation.json"), result)
    tables = report.markdown_tables(summaries, config.seeds, config.repeats)
    atomic_write(config.path("tables.md"), lambda f: f.write(tables.encode()))
    claims_text = claims.markdown(checks, config.seeds)
    atomic_write(config.path("claims.md"), lambda f: f.write(claims_text.encode()))
    report.save_figure(summaries, config.path("ablation.png"))
    return result


def run(config: AblationConfig) -> dict:
    """Runs (or resumes) the whole ablation; returns the content of `ablation.json`.

    Rows go one at a time (the untrained reference first, for the random baselines), and the outputs are
    rewritten after each, so an interrupted run leaves the tables of the rows it finished.
    """
    start = time.perf_counter()
    errors.require_writable_dir(config.output_dir, "--output_dir")
    check_same_settings(config)
    if config.demo:
        prepare_demo(config)
    else:  # a damaged shard is found now, not after the first rows' hours
        PreparedFolder(config.data_dir).verify()
    runs: dict[str, list[dict]] = {}
    for row in (UNTRAINED, *config.variants):
        for seed in range(config.seeds):
            train_row(config, row, seed)
            runs.setdefault(row, []).append(evaluate_row(config, row, seed))
        # The table layout wants model rows first, then the untrained reference.
        ordered = {r: runs[r] for r in (*config.variants, UNTRAINED) if r in runs}
        result = write_outputs(config, ordered, time.perf_counter() - start)
    for name in ("tables.md", "claims.md"):
        with open(config.path(name)) as f:
            print(f.read())
    _stage(f"wrote {config.path('ablation.json')}, tables.md, claims.md and ablation.png")
    return result
