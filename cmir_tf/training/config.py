"""Training hyper-parameters (the paper's values as defaults), filled from `train.py`'s absl flags."""

from __future__ import annotations

import dataclasses

PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; stored in the export's asset JSON and the hparams summary."""

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
    epochs: int = 100
    steps_per_epoch: int = 0  # 0: one pass over the training split
    validation_steps: int = 0  # 0: the whole validation split
    seed: int = 0
    strategy: str = "auto"
    precision: str = "float32"
    checkpoint_every: int = 500  # steps; also at every epoch end
    keep_checkpoints: int = 3
    log_every: int = 10  # steps between training summaries
    shuffle_buffer: int = 1024

    def __post_init__(self):
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        for name in ("batch_size", "epochs", "checkpoint_every", "log_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.data_dir or not self.model_dir:
            raise ValueError("data_dir and model_dir are required")
