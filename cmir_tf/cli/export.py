"""`cmir-export` (`python -m cmir_tf export`, `export/export_savedmodel.py`): a trained audio encoder as the
cmir_tf SavedModel (signatures in `cmir_tf.export.saved_model`; code: `cmir_tf.export.reexport`).

    cmir-export --checkpoint=RUN/best --variant=contr_cf_g --data_dir=PREPARED --output_dir=DIR
    cmir-export --weights=audio_encoder.weights.h5 --output_dir=DIR

`--checkpoint` reads a `tf.train.Checkpoint` (a prefix, or a folder: its latest checkpoint) in which the
encoder sits at `--checkpoint_object` (training writes `model.audio_encoder`); `--weights` reads a Keras
`.weights.h5` file saved from `build_audio_encoder()`.

With `--checkpoint` and a contrastive `--variant`, the genre and CF encoders that variant trained are restored
too and exported as the joint-space signatures (`embed_genres` + `genre_vocabulary` need `--data_dir`, the
prepared data folder the run trained on, for the genre vocabulary and word2vec shape).

(RUN is train.py's --model_dir: RUN/best holds the best checkpoint, RUN/checkpoints the latest ones.)

A re-export carries the training record of the checkpoint's run into the asset, as train.py's own export
does. `--variant` and `--num_heads` default to the run's. Like every export it is float32.
"""

from __future__ import annotations

import json

from absl import flags

from cmir_tf import errors
from cmir_tf.cli import runner
from cmir_tf.constants import ALL_VARIANTS
from cmir_tf.export.checkpoint import TRAINING_OBJECT_PATH
from cmir_tf.export.reexport import ReexportConfig, reexport

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Declares the flags; called by `run`, not at import, so that importing this module adds no flags."""
    flags.DEFINE_string("weights", None, "Keras `.weights.h5` of the audio encoder.")
    flags.DEFINE_string("checkpoint", None, "tf.train.Checkpoint prefix, or a folder holding checkpoints.")
    flags.DEFINE_string("checkpoint_object", TRAINING_OBJECT_PATH, "Dotted path of the encoder in the checkpoint.")
    flags.DEFINE_string("output_dir", None, "SavedModel folder to write.")
    flags.DEFINE_enum("variant", None, ALL_VARIANTS, "Training variant (recorded in the asset JSON).")
    flags.DEFINE_string("metadata_json", "{}", "JSON object of training flags to record in the asset JSON.")
    flags.DEFINE_bool("overwrite", False, "Replace an existing --output_dir.")
    flags.DEFINE_string("data_dir", None, "Prepared data folder of the run (genre vocabulary, word2vec matrix).")
    flags.DEFINE_integer("num_heads", None, "Attention heads of the run's genre encoder (default: the run's, else 4).")
    flags.mark_flags_as_required(["output_dir"])
    flags.mark_flags_as_mutual_exclusive(["weights", "checkpoint"], required=True)


def _metadata(text: str) -> dict:
    try:
        metadata = json.loads(text)
    except ValueError as error:
        raise errors.ConfigError(f"--metadata_json is not JSON: {error}") from error
    if not isinstance(metadata, dict):
        raise errors.ConfigError("--metadata_json must be a JSON object")
    return metadata


def main(argv: list[str]) -> None:
    runner.no_arguments(argv)
    config = ReexportConfig(
        output_dir=FLAGS.output_dir, weights=FLAGS.weights, checkpoint=FLAGS.checkpoint,
        checkpoint_object=FLAGS.checkpoint_object, variant=FLAGS.variant, metadata=_metadata(FLAGS.metadata_json),
        overwrite=FLAGS.overwrite, data_dir=FLAGS.data_dir, num_heads=FLAGS.num_heads)
    print(reexport(config))


def run() -> None:
    """Console entry (`cmir-export`, through `cmir_tf.cli.start`)."""
    define_flags()
    runner.run_main(main, "cmir-export")


if __name__ == "__main__":
    run()
