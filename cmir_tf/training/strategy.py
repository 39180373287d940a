"""Choosing the tf.distribute strategy and the worker's role."""

from __future__ import annotations

import json
import os

from cmir_tf import errors

import tensorflow as tf

STRATEGIES = ("auto", "one_device", "mirrored", "multi_worker")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """Returns the strategy for `--strategy`.

    `auto`: MirroredStrategy when more than one GPU is visible, else the one visible device.
    `multi_worker`: MultiWorkerMirroredStrategy from the TF_CONFIG environment variable (the scale-out path).
    """
    if name not in STRATEGIES:
        raise errors.ConfigError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {name!r}")
    if name == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise errors.ConfigError("--strategy=multi_worker needs the TF_CONFIG environment variable (cluster and task)")
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")


def is_chief() -> bool:
    """True unless TF_CONFIG names this task as a non-chief worker (worker 0 is chief when there is no chief)."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = config.get("task", {})
    if not task:
        return True
    if "chief" in config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type") == "worker" and int(task.get("index", 0)) == 0
