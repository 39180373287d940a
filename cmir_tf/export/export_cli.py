"""`cmir-export` (`python -m cmir_tf export`, `export/export_savedmodel.py`): a trained audio encoder as the
cmir_tf SavedModel (signatures in `cmir_tf.export.saved_model`).

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
does: the run's flags (`RUN/config.json`, found next to the checkpoint folder), the best step (the
checkpoint's number), the training precision and the fingerprint of the training split (of `--data_dir`, or
of the run's recorded data folder), so every check on a train.py export (evaluate.py's training-split check)
works on a re-export. `--variant` and `--num_heads` default to the run's. Like every export it is float32.
"""

from __future__ import annotations

import json
import os
import re

import tensorflow as tf
from absl import app, flags

from cmir_tf.cli import runner
from cmir_tf.constants import ALL_VARIANTS
from cmir_tf.data.prepared import PreparedFolder
from cmir_tf.export.checkpoint import TRAINING_OBJECT_PATH, restore_audio_encoder
from cmir_tf.export.genre_vocabulary import GenreVocabulary, tags_from_prepared
from cmir_tf.export.saved_model import export_audio_encoder
from cmir_tf.models import build_audio_encoder, build_cf_encoder, build_genre_encoder, build_tag_encoder
from cmir_tf.models.cross_modal import contrastive_modalities

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


def run_record(checkpoint: str) -> dict:
    """The training record of the run `checkpoint` (a prefix RUN/best/ckpt-N or a folder RUN/best) belongs to:
    RUN/config.json's fields (empty when there is none, e.g. a checkpoint copied on its own)."""
    folder = checkpoint if os.path.isdir(checkpoint) else os.path.dirname(checkpoint)
    path = os.path.join(os.path.dirname(os.path.abspath(folder)), "config.json")
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def main(argv: list[str]) -> None:
    runner.no_arguments(argv)
    try:
        metadata = json.loads(FLAGS.metadata_json)
    except ValueError as error:
        raise app.UsageError(f"--metadata_json is not JSON: {error}") from error
    if not isinstance(metadata, dict):
        raise app.UsageError("--metadata_json must be a JSON object")
    if FLAGS.weights and not os.path.isfile(FLAGS.weights):
        raise app.UsageError(f"--weights={FLAGS.weights}: no such file")
    encoder = build_audio_encoder()  # float32: an export is float32 whatever the training precision
    record = run_record(FLAGS.checkpoint) if FLAGS.checkpoint else {}
    if FLAGS.variant and record.get("variant") and FLAGS.variant != record["variant"]:
        raise app.UsageError(f"--variant={FLAGS.variant}, but the checkpoint's run trained {record['variant']}")
    variant = FLAGS.variant or record.get("variant")
    data_dir = FLAGS.data_dir or record.get("data_dir")
    try:
        if FLAGS.weights:
            encoder.load_weights(FLAGS.weights)
            metadata["source"] = FLAGS.weights
        else:
            prefix = restore_audio_encoder(encoder, FLAGS.checkpoint, FLAGS.checkpoint_object)
            step = re.search(r"ckpt-(\d+)$", prefix)
            metadata = {**record, **metadata, "source": prefix, "best_step": int(step.group(1)) if step else None}
            if data_dir and os.path.isfile(PreparedFolder(data_dir).splits_path):
                metadata["train_split_fingerprint"] = PreparedFolder(data_dir).split_fingerprint()
        if variant:
            metadata["variant"] = variant
        modalities = contrastive_modalities(variant) if FLAGS.checkpoint and variant else set()
        joint = joint_space_encoders(modalities, variant, data_dir, FLAGS.num_heads or record.get("num_heads", 4))
        print(export_audio_encoder(encoder, FLAGS.output_dir, metadata, overwrite=FLAGS.overwrite,
                                   training_precision=record.get("precision"), **joint))
    except (FileNotFoundError, FileExistsError, tf.errors.NotFoundError) as error:  # no checkpoint, no --overwrite
        raise app.UsageError(str(error)) from error
    except AssertionError as error:  # the checkpoint lacks variables of an encoder
        first_line = str(error).strip().splitlines()[0]
        raise app.UsageError(f"--checkpoint={FLAGS.checkpoint} does not hold the encoders of this --variant at "
                             f"--checkpoint_object: {first_line}") from error


def joint_space_encoders(modalities: set[str], variant: str, data_dir: str | None, num_heads: int) -> dict:
    """The genre / CF / tag encoders (and vocabularies) of `modalities`, restored from `--checkpoint`."""
    joint = {}
    if "genre" in modalities:
        if not data_dir or not os.path.isfile(PreparedFolder(data_dir).genre_word2vec_path):
            raise app.UsageError(f"--variant={variant} has a genre encoder: pass --data_dir, the run's prepared "
                                 f"data folder (its vocabulary){f'; {data_dir} has none' if data_dir else ''}")
        word2vec = PreparedFolder(data_dir).genre_word2vec()
        joint["genre_encoder"] = build_genre_encoder(word2vec, num_heads)
        joint["vocabulary"] = GenreVocabulary.from_prepared(data_dir)
        restore_audio_encoder(joint["genre_encoder"], FLAGS.checkpoint, "model.genre_encoder")
    if "cf" in modalities:
        joint["cf_encoder"] = build_cf_encoder()
        restore_audio_encoder(joint["cf_encoder"], FLAGS.checkpoint, "model.cf_encoder")
    if "tag" in modalities:
        if not data_dir or not PreparedFolder(data_dir).has_tags():
            raise app.UsageError(f"--variant={variant} has a playlist-tag encoder: pass --data_dir, the run's prepared "
                                 f"data folder (its tags){f'; {data_dir} has none' if data_dir else ''}")
        joint["tag_encoder"] = build_tag_encoder(PreparedFolder(data_dir).tag_word2vec(), num_heads)
        joint["tags"] = tags_from_prepared(data_dir)
        restore_audio_encoder(joint["tag_encoder"], FLAGS.checkpoint, "model.tag_encoder")
    return joint


def run() -> None:
    """Console entry (`cmir-export`, through `cmir_tf.cli.start`)."""
    define_flags()
    runner.run_main(main, "cmir-export")


if __name__ == "__main__":
    run()
