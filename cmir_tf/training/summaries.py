"""TensorBoard writing: scalars under a common prefix, and the run's hyper-parameters."""

from __future__ import annotations

import dataclasses
import os

import tensorflow as tf
from tensorboard.plugins.hparams import api as hparams_api

from cmir_tf.training.config import TrainConfig


class SummaryWriters:
    """`train/` and `validation/` event files under `model_dir/tensorboard`; silent on non-chief workers."""

    def __init__(self, model_dir: str, enabled: bool):
        root = os.path.join(model_dir, "tensorboard")
        self._writers = (
            {name: tf.summary.create_file_writer(os.path.join(root, name)) for name in ("train", "validation")}
            if enabled
            else {}
        )

    def scalars(self, split: str, values: dict[str, float], step: int) -> None:
        writer = self._writers.get(split)
        if writer is None:
            return
        with writer.as_default(step=step):
            for name, value in values.items():
                tf.summary.scalar(name, value)
        writer.flush()

    def hparams(self, config: TrainConfig) -> None:
        writer = self._writers.get("train")
        if writer is None:
            return
        values = {
            k: v for k, v in dataclasses.asdict(config).items() if k not in ("data_dir", "model_dir")
        }
        with writer.as_default():
            hparams_api.hparams(values, trial_id=os.path.basename(os.path.normpath(config.model_dir)))
        writer.flush()
