"""Training hyper-parameters (the paper's values as defaults), filled from `train.py`'s absl flags.

`TrainConfig` validates every value when it is built, before anything is written. A model directory stores
the config of the run that created it (`config.json`); a resume whose training-defining fields differ is
refused by `check_resume`, naming each field with its stored and new value.
"""

from __future__ import annotations

import dataclasses
import json
import os

from cmir_tf import errors
from cmir_tf.constants import ALL_VARIANTS
from cmir_tf.data.atomic import write_json

PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
# The paper's spelling of each variant (ContrCF-G -> contrcf_g; pl_pos -> plpos) -> the internal one (contr_cf_g).
VARIANT_ALIASES = {variant.replace("_", "", 1): variant for variant in ALL_VARIANTS if "_" in variant}
# Fields that do not change the trained weights, so a resume may change them: where the files are (the data
# itself is compared by its prepare fingerprint), how often to log and checkpoint, how many devices or workers
# share the global batch, whether kernels are forced deterministic, and how many epochs to run in all (no
# schedule depends on it, so a finished run can be extended).
RESUME_FREE_FIELDS = (
    "data_dir",
    "model_dir",
    "checkpoint_every",
    "keep_checkpoints",
    "log_every",
    "strategy",
    "deterministic",
    "epochs",
)
CONFIG_FILE = "config.json"


def canonical_variant(name: str) -> str:
    """`contrcf_g` or `contr_cf_g` -> `contr_cf_g`; ValueError for an unknown name."""
    if name in ALL_VARIANTS:
        return name
    if name in VARIANT_ALIASES:
        return VARIANT_ALIASES[name]
    raise errors.ConfigError(f"unknown variant {name!r}; choose one of {', '.join(ALL_VARIANTS + tuple(VARIANT_ALIASES))}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; stored in the model directory, the export's asset JSON and the
    hparams summary (with `precision` resolved from "auto" to the policy actually used)."""

    variant: str = "contr_cf_g"
    data_dir: str = ""
    model_dir: str = ""
    batch_size: int = 128  # global: split evenly over replicas and workers
    learning_rate: float = 1e-4
    weight_decay: float = 1e-4  # coupled L2, as PyTorch Adam(weight_decay=1e-4)
    temperature: float = 0.1
    dropout: float = 0.5
    num_heads: int = 4
    lambda_audio_genre: float = 1.0  # lambda_A2G
    lambda_audio_playlist: float = 1.0  # lambda_A2P
    lambda_genre_playlist: float = 1.0  # lambda_G2P
    lambda_audio_tag: float = 1.0  # tag variants: L(audio, tags)
    lambda_tag_playlist: float = 1.0  # contr_cf_g_t: L(tags, playlist)
    epochs: int = 400
    steps_per_epoch: int = 0  # 0: one pass over the training split
    validation_steps: int = 0  # 0: the whole validation split
    seed: int = 0
    strategy: str = "auto"
    precision: str = "auto"
    deterministic: bool = False  # TF op determinism: a resumed run equals an uninterrupted one bitwise
    checkpoint_every: int = 500  # steps; also at every epoch end
    keep_checkpoints: int = 3
    log_every: int = 10  # steps between training summaries
    shuffle_buffer: int = 1024

    def __post_init__(self):
        object.__setattr__(self, "variant", canonical_variant(self.variant))
        if not self.data_dir or not self.model_dir:
            raise errors.ConfigError("--data_dir and --model_dir are required")
        if self.precision not in PRECISIONS:
            raise errors.ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        minimums = {"batch_size": 2, "epochs": 1, "num_heads": 1, "checkpoint_every": 1, "log_every": 1,
                    "keep_checkpoints": 1, "shuffle_buffer": 1, "steps_per_epoch": 0, "validation_steps": 0}
        for name, minimum in minimums.items():
            if getattr(self, name) < minimum:
                why = " (NT-Xent needs a negative in every batch)" if name == "batch_size" else ""
                raise errors.ConfigError(f"--{name} must be >= {minimum}{why}, got {getattr(self, name)}")
        for name in ("learning_rate", "temperature"):
            if not getattr(self, name) > 0:
                raise errors.ConfigError(f"--{name} must be > 0, got {getattr(self, name)}")
        for name in ("weight_decay", "lambda_audio_genre", "lambda_audio_playlist", "lambda_genre_playlist",
                     "lambda_audio_tag", "lambda_tag_playlist"):
            if not getattr(self, name) >= 0:
                raise errors.ConfigError(f"--{name} must be >= 0, got {getattr(self, name)}")
        if self.deterministic and self.strategy in ("mirrored", "multi_worker"):
            raise errors.ConfigError(f"--deterministic runs on one device; it cannot be combined with --strategy={self.strategy}")
        if not 0 <= self.dropout < 1:
            raise errors.ConfigError(f"--dropout must be in [0, 1), got {self.dropout}")


class ResumeMismatchError(errors.UsageError, ValueError):
    """`model_dir` holds a run trained with other training-defining flags."""


def check_resume(config: TrainConfig, data_fingerprint: str | None) -> None:
    """Refuses to resume `config.model_dir` under other training-defining flags or other prepared data.

    Args:
      config: the new run's config, `precision` already resolved.
      data_fingerprint: the prepared data's input fingerprint (manifest.json), None if it has none.

    Raises:
      ResumeMismatchError: naming every differing field as `--name: stored -> new`.
    """
    path = os.path.join(config.model_dir, CONFIG_FILE)
    if not os.path.exists(path):
        return
    with open(path) as f:
        stored = json.load(f)
    new = {**_defining_fields(config), "data_fingerprint": data_fingerprint}
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}  # a field newer than the stored run
    stored = {name: stored.get(name, defaults.get(name)) for name in new}
    differences = [
        f"--{name}: {stored[name]!r} -> {value!r}" for name, value in new.items() if stored[name] != value
    ]
    if differences:
        raise ResumeMismatchError(
            f"{config.model_dir} holds a run trained with other settings ({'; '.join(differences)}); "
            "rerun with the stored values or use a new --model_dir"
        )


def store_config(config: TrainConfig, data_fingerprint: str | None) -> None:
    """Writes `model_dir/config.json` (every field, plus the data fingerprint) by a rename, so it is whole."""
    write_json(os.path.join(config.model_dir, CONFIG_FILE),
               {**dataclasses.asdict(config), "data_fingerprint": data_fingerprint})


def _defining_fields(config: TrainConfig) -> dict:
    return {k: v for k, v in dataclasses.asdict(config).items() if k not in RESUME_FREE_FIELDS}
