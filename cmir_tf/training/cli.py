"""`cmir-train` (`python -m cmir_tf train`, `python train.py`): trains one cmir-tf variant.

    python train.py --flagfile=contrcf_g.flags --data_dir=... --model_dir=...

Flags default to the paper's values; the six flagfiles at the repository root select the variants. Exit
status: 2 with one line for invalid flags, a resume under other training-defining flags and a `--model_dir`
another train.py is using (its pid named); 1 with one line for missing or damaged prepared data (the shard
and the prepare command that rewrites it named), a NaN loss and a `--model_dir` that cannot be written
(read-only, full disk); 130 after Ctrl-C, once a checkpoint of the step reached is saved.
"""

import dataclasses
import sys

from absl import app, flags, logging

from cmir_tf.cli import runner
from cmir_tf.constants import ALL_VARIANTS
from cmir_tf.data.atomic import describe_write_error
from cmir_tf.data.lock import DirectoryLockedError
from cmir_tf.data.prepared import DamagedFolderError
from cmir_tf.training import PRECISIONS, STRATEGIES, NonFiniteLossError, TrainConfig, train
from cmir_tf.training.config import VARIANT_ALIASES, ResumeMismatchError
from cmir_tf.training.loop import TrainingInterrupted
from cmir_tf.training.precision import PrecisionUnavailableError

PROGRAM = "cmir-train"
EXIT_INTERRUPTED = 130  # 128 + SIGINT, the shell's convention for Ctrl-C
_DEFAULTS = TrainConfig.__dataclass_fields__
_HELP = {
    "variant": "which model to train; the paper's spelling (contrcf_g) or the internal one (contr_cf_g)",
    "data_dir": "prepared TFRecords (python -m cmir_tf prepare)",
    "model_dir": "checkpoints, TensorBoard events and the exported SavedModel; rerun to resume",
    "batch_size": "global batch size, split over replicas and workers",
    "learning_rate": "Adam learning rate",
    "weight_decay": "coupled L2 coefficient (PyTorch Adam weight_decay)",
    "temperature": "NT-Xent temperature",
    "dropout": "dropout rate of every encoder",
    "num_heads": "self-attention heads of the genre (and playlist-tag) encoder",
    "lambda_audio_genre": "weight of L(audio, genre) (lambda_A2G)",
    "lambda_audio_playlist": "weight of L(audio, playlist) (lambda_A2P)",
    "lambda_genre_playlist": "weight of L(genre, playlist) (lambda_G2P)",
    "lambda_audio_tag": "weight of L(audio, playlist tags) (tag variants)",
    "lambda_tag_playlist": "weight of L(playlist tags, playlist) (contr_cf_g_t)",
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


def define_flags() -> None:
    """The training flags (one per `TrainConfig` field) and `--verify_data`."""
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
    flags.DEFINE_bool("verify_data", False, "check every shard's sha256 against the prepared folder's manifest "
                      "before training (reads all the data once); sizes are always checked")


def _fail(error: object, status: int) -> None:
    print(f"{PROGRAM}: error: {error}", file=sys.stderr)
    sys.exit(status)


def main(argv: list[str]) -> None:
    runner.no_arguments(argv)
    try:
        config = TrainConfig(**{f.name: flags.FLAGS[f.name].value for f in dataclasses.fields(TrainConfig)})
    except ValueError as error:
        raise app.UsageError(str(error)) from error
    try:
        result = train(config, verify_data=flags.FLAGS.verify_data)
    except (ResumeMismatchError, PrecisionUnavailableError, DirectoryLockedError) as error:
        _fail(error, 2)
    except DamagedFolderError as error:
        _fail(error, 1)
    except (FileNotFoundError, NonFiniteLossError) as error:
        logging.error("%s", error)
        sys.exit(1)
    except OSError as error:
        _fail(describe_write_error(error), 1)
    except TrainingInterrupted as interrupted:
        print(f"{PROGRAM}: {interrupted}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:  # a second Ctrl-C, or one outside the training loop (start-up, export)
        print(f"{PROGRAM}: interrupted; rerun the same command to resume from the last checkpoint", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    logging.info("done: %s", result)
    print(f"exported the best audio encoder to {result['export_dir']}")
    print(f"watch training with: tensorboard --logdir {config.model_dir}/tensorboard")


def run() -> None:
    """Console entry (`cmir-train`, `python train.py`, through `cmir_tf.cli.start`)."""
    define_flags()
    runner.run_main(main, PROGRAM)


if __name__ == "__main__":
    run()
