"""The process-wide settings training changes (Keras' dtype policy, the Python, NumPy, TensorFlow and Keras
seeds), restored when it returns, so that a caller's process is as it was (`train` is a library function).

TensorFlow's op determinism and thread pools, which `--deterministic` sets, cannot be undone once TensorFlow
has run an op: they stay, as `TrainConfig.deterministic` documents.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator

import keras
import numpy as np
import tensorflow as tf
from keras.src.backend.common import global_state  # Keras' own seed record, which set_random_seed writes

_KERAS_SEED_ATTRIBUTES = ("global_random_seed", "global_seed_generator")


@contextlib.contextmanager
def global_state_kept() -> Iterator[None]:
    """Restores the dtype policy and every seed `keras.utils.set_random_seed` sets when the block exits."""
    policy = keras.mixed_precision.global_policy()
    python_state, numpy_state = random.getstate(), np.random.get_state()
    tf_seed = _tensorflow_global_seed()
    keras_seeds = {name: global_state.get_global_attribute(name) for name in _KERAS_SEED_ATTRIBUTES}
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(policy)
        random.setstate(python_state)
        np.random.set_state(numpy_state)
        tf.random.set_seed(tf_seed)
        for name, value in keras_seeds.items():
            global_state.set_global_attribute(name, value)


@contextlib.contextmanager
def dtype_policy(name: str) -> Iterator[None]:
    """Keras' global dtype policy is `name` inside the block (layers and models built there keep it), the
    caller's again after it."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _tensorflow_global_seed() -> int | None:
    """TensorFlow's global seed (`tf.random.set_seed`), None when unset."""
    from tensorflow.python.eager import context  # TensorFlow has no public getter

    return context.global_seed()
