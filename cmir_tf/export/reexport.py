"""A trained audio encoder (a training checkpoint or Keras weights) re-exported as the cmir_tf SavedModel
(signatures in `cmir_tf.export.saved_model`); the library behind `cmir-export` (`cmir_tf.cli.export`).

`checkpoint` reads a `tf.train.Checkpoint` (a prefix, or a folder: its latest checkpoint) in which the
encoder sits at `checkpoint_object` (training writes `model.audio_encoder`); `weights` reads a Keras
`.weights.h5` file saved from `build_audio_encoder()`.

With a checkpoint and a contrastive variant, the genre / CF / tag encoders that variant trained are restored
too and exported as the joint-space signatures (they need `data_dir`, the prepared data folder the run trained
on, for the vocabularies and word2vec shapes).

A re-export carries the training record of the checkpoint's run into the asset, as training's own export
does: the run's flags (`RUN/config.json`, found next to the checkpoint folder), the best step (the
checkpoint's number), the training precision and the fingerprint of the training split (of `data_dir`, or of
the run's recorded data folder), so every check on a training export works on a re-export. `variant` and
`num_heads` default to the run's. Like every export it is float32.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re

import tensorflow as tf

from cmir_tf import errors
from cmir_tf.data.prepared import PreparedFolder
from cmir_tf.export.checkpoint import TRAINING_OBJECT_PATH, restore_audio_encoder
from cmir_tf.export.genre_vocabulary import GenreVocabulary, tags_from_prepared
from cmir_tf.export.saved_model import export_audio_encoder
from cmir_tf.models import build_audio_encoder, build_cf_encoder, build_genre_encoder, build_tag_encoder
from cmir_tf.models.cross_modal import contrastive_modalities


class CheckpointMismatchError(errors.UsageError, ValueError):
    """The checkpoint or weights do not hold what the re-export was asked for (another file is needed)."""


@dataclasses.dataclass(frozen=True)
class ReexportConfig:
    """What `reexport` reads and writes: exactly one of `weights` / `checkpoint`; `metadata` is recorded in the
    asset JSON beside the run's record."""

    output_dir: str
    weights: str | None = None
    checkpoint: str | None = None
    checkpoint_object: str = TRAINING_OBJECT_PATH
    variant: str | None = None
    metadata: dict = dataclasses.field(default_factory=dict)
    overwrite: bool = False
    data_dir: str | None = None
    num_heads: int | None = None

    def __post_init__(self):
        if bool(self.weights) == bool(self.checkpoint):
            raise errors.ConfigError("give exactly one of --weights and --checkpoint")
        if self.weights:
            errors.require_path(self.weights, "--weights")


def run_record(checkpoint: str) -> dict:
    """The training record of the run `checkpoint` (a prefix RUN/best/ckpt-N or a folder RUN/best) belongs to:
    RUN/config.json's fields (empty when there is none, e.g. a checkpoint copied on its own)."""
    folder = checkpoint if os.path.isdir(checkpoint) else os.path.dirname(checkpoint)
    path = os.path.join(os.path.dirname(os.path.abspath(folder)), "config.json")
    if not os.path.isfile(path):
        return {}
    with open(path) as f:
        return json.load(f)


def reexport(config: ReexportConfig) -> str:
    """Writes the SavedModel of `config` and returns its folder.

    Raises:
      errors.ConfigError / CheckpointMismatchError: another variant than the run's, a checkpoint without this
        variant's encoders, a joint-space variant without its prepared folder.
      errors.MissingPathError: no such weights file, no checkpoint at `checkpoint`.
      errors.OutputExistsError: `output_dir` exists and `overwrite` is off.
      errors.PathError: `output_dir` cannot be written (read-only, full), naming it.
    """
    encoder = build_audio_encoder()  # float32: an export is float32 whatever the training precision
    record = run_record(config.checkpoint) if config.checkpoint else {}
    if config.variant and record.get("variant") and config.variant != record["variant"]:
        raise errors.ConfigError(f"--variant={config.variant}, but the checkpoint's run trained {record['variant']}")
    variant = config.variant or record.get("variant")
    data_dir = config.data_dir or record.get("data_dir")
    metadata = dict(config.metadata)
    try:
        if config.weights:
            encoder.load_weights(config.weights)
            metadata["source"] = config.weights
        else:
            prefix = restore_audio_encoder(encoder, config.checkpoint, config.checkpoint_object)
            step = re.search(r"ckpt-(\d+)$", prefix)
            metadata = {**record, **metadata, "source": prefix, "best_step": int(step.group(1)) if step else None}
            if data_dir and os.path.isfile(PreparedFolder(data_dir).splits_path):
                metadata["train_split_fingerprint"] = PreparedFolder(data_dir).split_fingerprint()
        if variant:
            metadata["variant"] = variant
        modalities = contrastive_modalities(variant) if config.checkpoint and variant else set()
        joint = joint_space_encoders(modalities, variant, data_dir, config.num_heads or record.get("num_heads", 4),
                                     config.checkpoint)
    except (FileNotFoundError, tf.errors.NotFoundError) as error:  # no checkpoint there
        reason = str(error).strip().splitlines()[0]
        raise errors.missing_path(config.checkpoint, "--checkpoint", f"no checkpoint there ({reason})") from error
    except AssertionError as error:  # the checkpoint lacks variables of an encoder
        first_line = str(error).strip().splitlines()[0]
        raise CheckpointMismatchError(f"--checkpoint={config.checkpoint} does not hold the encoders of this "
                                      f"--variant at --checkpoint_object: {first_line}") from error
    return export_audio_encoder(encoder, config.output_dir, metadata, overwrite=config.overwrite,
                                training_precision=record.get("precision"), **joint)


def joint_space_encoders(modalities: set[str], variant: str, data_dir: str | None, num_heads: int,
                         checkpoint: str) -> dict:
    """The genre / CF / tag encoders (and vocabularies) of `modalities`, restored from `checkpoint`."""
    joint = {}
    if "genre" in modalities:
        if not data_dir or not os.path.isfile(PreparedFolder(data_dir).genre_word2vec_path):
            raise errors.ConfigError(f"--variant={variant} has a genre encoder: pass --data_dir, the run's prepared "
                                     f"data folder (its vocabulary){f'; {data_dir} has none' if data_dir else ''}")
        word2vec = PreparedFolder(data_dir).genre_word2vec()
        joint["genre_encoder"] = build_genre_encoder(word2vec, num_heads)
        joint["vocabulary"] = GenreVocabulary.from_prepared(data_dir)
        restore_audio_encoder(joint["genre_encoder"], checkpoint, "model.genre_encoder")
    if "cf" in modalities:
        joint["cf_encoder"] = build_cf_encoder()
        restore_audio_encoder(joint["cf_encoder"], checkpoint, "model.cf_encoder")
    if "tag" in modalities:
        if not data_dir or not PreparedFolder(data_dir).has_tags():
            raise errors.ConfigError(f"--variant={variant} has a playlist-tag encoder: pass --data_dir, the run's "
                                     f"prepared data folder (its tags){f'; {data_dir} has none' if data_dir else ''}")
        joint["tag_encoder"] = build_tag_encoder(PreparedFolder(data_dir).tag_word2vec(), num_heads)
        joint["tags"] = tags_from_prepared(data_dir)
        restore_audio_encoder(joint["tag_encoder"], checkpoint, "model.tag_encoder")
    return joint
