"""Trains one cmir-tf variant: `python train.py --flagfile=contrcf_g.flags --data_dir=... --model_dir=...`.

Flags default to the paper's values; the six flagfiles at the repository root select the variants. Invalid
flags, and a resume under other training-defining flags, end in a one-line error with exit status 2 before
anything is written.
"""

from __future__ import annotations

import dataclasses
import sys

from absl import app, flags, logging

from cmir_tf.constants import ALL_VARIANTS
from cmir_tf.training import PRECISIONS, STRATEGIES, NonFiniteLossError, TrainConfig, train
from cmir_tf.training.config import VARIANT_ALIASES, ResumeMismatchError
from cmir_tf.training.precision import PrecisionUnavailableError

_DEFAULTS = TrainConfig.__dataclass_fields__
_HELP = {
    "variant": "which model to train; the paper's spelling (contrcf_g) or the internal one (contr_cf_g)",
    "data_dir": "prepared TFRecords (python -m cmir_tf.data.prepare)",
    "model_dir": "checkpoints, TensorBoard events and the exported SavedModel; rerun to resume",
    "batch_size": "global batch size, split over replicas and workers",
    "learning_rate": "Adam learning rate",
    "weight_decay": "coupled L2 coefficient (PyTorch Adam weight_decay)",
    "temperature": "NT-Xent temperature",
    "dropout": "dropout rate of every encoder",
    "num_heads": "self-attention heads of the genre encoder",
    "lambda_audio_genre": "weight of L(audio, genre) (lambda_A2G)",
    "lambda_audio_playlist": "weight of L(audio, playlist) (lambda_A2P)",
    "lambda_genre_playlist": "weight of L(genre, playlist) (lambda_G2P)",
    "epochs": "training epochs",
    "steps_per_epoch": "steps per epoch; 0 = one pass over the training split",
    "validation_steps": "validation batches per epoch; 0 = the whole validation split",
    "seed": "seed of initialisation, shuffling, crops and dropout",
    "strategy": "tf.distribute strategy; multi_worker reads TF_CONFIG",
    "precision": "Keras dtype policy; auto: mixed_bfloat16 on bf16 CPUs and GPUs of compute capability >= 8, "
    "mixed_float16 on 7.x GPUs, else float32 (mixed_float16 uses dynamic loss scaling)",
    "deterministic": "TensorFlow op determinism: a resumed run equals an uninterrupted one bitwise (slower)",
    "checkpoint_every": "steps between checkpoints (also at each epoch end)",
    "keep_checkpoints": "latest checkpoints kept",
    "log_every": "steps between TensorBoard training summaries",
    "shuffle_buffer": "records in the shuffle buffer",
}


def _define_flags() -> None:
    for name, field in _DEFAULTS.items():
        default = field.default
        if name == "variant":
            flags.DEFINE_enum(name, default, ALL_VARIANTS + tuple(VARIANT_ALIASES), _HELP[name])
        elif name == "strategy":
            flags.DEFINE_enum(name, default, STRATEGIES, _HELP[name])
        elif name == "precision":
            flags.DEFINE_enum(name, default, PRECISIONS, _HELP[name])
        elif isinstance(default, bool):
            flags.DEFINE_bool(name, default, _HELP[name])
        elif isinstance(default, int):
            flags.DEFINE_integer(name, default, _HELP[name])
        elif isinstance(default, float):
            flags.DEFINE_float(name, default, _HELP[name])
        else:
            flags.DEFINE_string(name, default, _HELP[name])


def _usage_error(error: Exception) -> None:
    print(f"train.py: error: {error}", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str]) -> None:
    del argv
    try:
        config = TrainConfig(**{f.name: flags.FLAGS[f.name].value for f in dataclasses.fields(TrainConfig)})
    except ValueError as error:
        _usage_error(error)
    try:
        result = train(config)
    except (ResumeMismatchError, PrecisionUnavailableError) as error:
        _usage_error(error)
    except (FileNotFoundError, NonFiniteLossError) as error:
        logging.error("%s", error)
        sys.exit(1)
    logging.info("done: %s", result)
    print(f"exported the best audio encoder to {result['export_dir']}")
    print(f"watch training with: tensorboard --logdir {config.model_dir}/tensorboard")


if __name__ == "__main__":
    _define_flags()
    app.run(main)
