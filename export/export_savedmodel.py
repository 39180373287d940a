"""Exports a trained audio encoder as the cmir_tf SavedModel (signatures in `cmir_tf.export.saved_model`).

    python export/export_savedmodel.py --checkpoint=RUN/best --variant=contr_cf_g --data_dir=PREPARED --output_dir=DIR
    python export/export_savedmodel.py --weights=audio_encoder.weights.h5 --output_dir=DIR

`--checkpoint` reads a `tf.train.Checkpoint` (a prefix, or a folder: its latest checkpoint) in which the
encoder sits at `--checkpoint_object` (training writes `model.audio_encoder`); `--weights` reads a Keras
`.weights.h5` file saved from `build_audio_encoder()`.

With `--checkpoint` and a contrastive `--variant`, the genre and CF encoders that variant trained are restored
too and exported as the joint-space signatures (`embed_genres` + `genre_vocabulary` need `--data_dir`, the
prepared data folder the run trained on, for the genre vocabulary and word2vec shape).
"""

import cmir_tf.runtime  # noqa: F401  (first: oneDNN and quiet logs must be set before TensorFlow loads)
import json
import os

import keras
import numpy as np
from absl import app, flags

from cmir_tf.constants import VARIANTS
from cmir_tf.export.checkpoint import TRAINING_OBJECT_PATH, restore_audio_encoder
from cmir_tf.export.genre_vocabulary import GenreVocabulary
from cmir_tf.export.saved_model import export_audio_encoder
from cmir_tf.models import build_audio_encoder, build_cf_encoder, build_genre_encoder
from cmir_tf.models.cross_modal import contrastive_modalities

flags.DEFINE_string("weights", None, "Keras `.weights.h5` of the audio encoder.")
flags.DEFINE_string("checkpoint", None, "tf.train.Checkpoint prefix, or a folder holding checkpoints.")
flags.DEFINE_string("checkpoint_object", TRAINING_OBJECT_PATH, "Dotted path of the encoder in the checkpoint.")
flags.DEFINE_string("output_dir", None, "SavedModel folder to write.")
flags.DEFINE_enum("variant", None, VARIANTS, "Training variant (recorded in the asset JSON).")
flags.DEFINE_string("metadata_json", "{}", "JSON object of training flags to record in the asset JSON.")
flags.DEFINE_enum("dtype_policy", "float32", ["float32", "mixed_bfloat16", "mixed_float16"], "Compute dtype.")
flags.DEFINE_bool("overwrite", False, "Replace an existing --output_dir.")
flags.DEFINE_string("data_dir", None, "Prepared data folder of the run (genre vocabulary, word2vec matrix).")
flags.DEFINE_integer("num_heads", 4, "Attention heads of the run's genre encoder.")
flags.mark_flags_as_required(["output_dir"])
flags.mark_flags_as_mutual_exclusive(["weights", "checkpoint"], required=True)
FLAGS = flags.FLAGS


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}", exitcode=2)
    metadata = json.loads(FLAGS.metadata_json)
    if not isinstance(metadata, dict):
        raise app.UsageError("--metadata_json must be a JSON object", exitcode=2)
    keras.mixed_precision.set_dtype_policy(FLAGS.dtype_policy)
    encoder = build_audio_encoder()
    if FLAGS.weights:
        encoder.load_weights(FLAGS.weights)
        metadata["source"] = FLAGS.weights
    else:
        metadata["source"] = restore_audio_encoder(encoder, FLAGS.checkpoint, FLAGS.checkpoint_object)
    if FLAGS.variant:
        metadata["variant"] = FLAGS.variant
    joint = joint_space_encoders(contrastive_modalities(FLAGS.variant) if FLAGS.checkpoint and FLAGS.variant else set())
    print(export_audio_encoder(encoder, FLAGS.output_dir, metadata, overwrite=FLAGS.overwrite, **joint))


def joint_space_encoders(modalities: set[str]) -> dict:
    """The genre / CF encoders (and genre vocabulary) of `modalities`, restored from `--checkpoint`."""
    joint = {}
    if "genre" in modalities:
        if not FLAGS.data_dir:
            raise app.UsageError(
                f"--variant={FLAGS.variant} has a genre encoder: pass --data_dir (its vocabulary)", exitcode=2)
        word2vec = np.load(os.path.join(FLAGS.data_dir, "genre_word2vec.npy"))
        joint["genre_encoder"] = build_genre_encoder(word2vec, FLAGS.num_heads)
        joint["vocabulary"] = GenreVocabulary.from_prepared(FLAGS.data_dir)
        restore_audio_encoder(joint["genre_encoder"], FLAGS.checkpoint, "model.genre_encoder")
    if "cf" in modalities:
        joint["cf_encoder"] = build_cf_encoder()
        restore_audio_encoder(joint["cf_encoder"], FLAGS.checkpoint, "model.cf_encoder")
    return joint


if __name__ == "__main__":
    app.run(main)
