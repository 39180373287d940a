"""`cmir-ablation` (`python -m cmir_tf ablation`): the paper's ablation, six variants -> Tables 1-3, the claims
table, a figure and `ablation.json` (`cmir_tf.experiments.ablation`).

  cmir-ablation --output_dir=ablation_run            # on the demo corpus
  cmir-ablation --variants=all --seeds=3 ...          # + intra-modal and playlist-tag variants
  cmir-ablation --variants=contr_cf_g,contr_t,contr_cf_g_t ...   # the tag variants beside ContrCF-G
  cmir-ablation --output_dir=runs/ablation --data_dir=/data/melon_prepared \
      --melon_dir=/data/melon --gtzan_dir=/data/gtzan --jamendo_dir=/data/mtg-jamendo --epochs=400 ...

Every variant trains with the same seeds, budget and precision; an untrained encoder (random initialisation,
same seeds) is the reference row. A rerun skips finished trainings, exports, evaluations and cached embeddings,
and resumes an interrupted training from its checkpoint.
"""

from __future__ import annotations

import dataclasses

from absl import flags

from cmir_tf.cli import runner
from cmir_tf.constants import ALL_VARIANTS, TAG_VARIANTS, VARIANTS
from cmir_tf.experiments import ablation, summary
from cmir_tf.experiments.ablation import DATA_FLAGS, AblationConfig


def define_flags() -> None:
    flags.DEFINE_string("output_dir", "ablation_run", "Where models, evaluations, tables and the figure go.")
    for name in DATA_FLAGS:
        flags.DEFINE_string(name, "", f"Real data: --{name} (all four, or none for the demo corpus).")
    flags.DEFINE_string("gtzan_splits_dir", None, "Other GTZAN split lists (default: the fault-filtered ones).")
    flags.DEFINE_list("variants", list(VARIANTS), f"Variants to train: any of {', '.join(ALL_VARIANTS)}; "
                      "'all' for every one (the paper's six, the intra-modal ones, docs/intra_modal.md, and the "
                      f"playlist-tag ones, {', '.join(TAG_VARIANTS)}, docs/playlist_tags.md).")
    flags.DEFINE_integer("seeds", 1, "Training seeds per variant (0..N-1); N > 1 reports training-seed variance.")
    flags.DEFINE_integer("batch_size", AblationConfig.batch_size, "Training batch size (every variant).")
    flags.DEFINE_integer("epochs", AblationConfig.epochs, "Training epochs (every variant).")
    flags.DEFINE_integer("steps_per_epoch", AblationConfig.steps_per_epoch, "Steps per epoch; 0 = one pass.")
    flags.DEFINE_integer("validation_steps", AblationConfig.validation_steps, "Validation batches; 0 = all.")
    flags.DEFINE_float("learning_rate", AblationConfig.learning_rate, "Adam learning rate (every variant).")
    flags.DEFINE_enum("precision", "float32", ["float32", "mixed_bfloat16", "mixed_float16"], "Every variant's.")
    flags.DEFINE_integer("repeats", 10, "Probe repeats (GTZAN, MTG-Jamendo), as in the paper.")
    flags.DEFINE_integer("probe_epochs", AblationConfig.probe_epochs, "Maximum probe epochs (early stopping).")
    flags.DEFINE_list("jamendo_categories", list(summary.JAMENDO_CATEGORIES), "MTG-Jamendo categories.")
    flags.DEFINE_enum("embedding", "features", ["features", "embedding"], "Encoder output evaluated.")


FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    runner.no_arguments(argv)
    values = {f.name: FLAGS[f.name].value for f in dataclasses.fields(AblationConfig)}
    variants = ALL_VARIANTS if values["variants"] == ["all"] else tuple(values["variants"])
    ablation.run(AblationConfig(**{**values, "variants": variants,
                                   "jamendo_categories": tuple(values["jamendo_categories"])}))


def run() -> None:
    """Console entry (`cmir-ablation`, through `cmir_tf.cli.start`)."""
    define_flags()
    runner.run_main(main, "cmir-ablation")


if __name__ == "__main__":
    run()
