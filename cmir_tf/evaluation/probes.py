"""Downstream probes: small Keras MLPs on frozen embeddings, trained with early stopping, repeated.

Both MLPs start with a `Normalization` layer adapted on the training inputs (per-dimension standardisation),
so 1024-d `features` and layer-normalised 128-d `embedding`s train alike. They are float32 whatever Keras' global
policy: under a caller's `mixed_float16` they scored NaN (float16 overflow, and `compile` then wraps the
optimizer in loss scaling, which the probe's own training loop does not apply).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf
from keras import layers
from tqdm import tqdm

from cmir_tf import errors
from cmir_tf.training.global_state import dtype_policy, global_state_kept


@dataclasses.dataclass(frozen=True)
class ProbeConfig:
    """Training settings shared by every probe."""

    epochs: int = 200  # upper bound; early stopping usually ends training much sooner
    patience: int = 10  # epochs without validation-loss improvement before stopping
    batch_size: int = 64
    learning_rate: float = 1e-3


def _input_block(x_train: np.ndarray) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    inputs = keras.Input(shape=x_train.shape[1:], name="embedding")
    norm = layers.Normalization(name="standardise")
    norm.adapt(x_train)
    return inputs, norm(inputs)


@dtype_policy("float32")
def build_genre_mlp(x_train: np.ndarray, n_classes: int, hidden_units: int = 256) -> keras.Model:
    """(B, D) -> (B, n_classes) softmax; one hidden layer of `hidden_units` ReLU units (the paper's GTZAN probe)."""
    inputs, x = _input_block(x_train)
    x = layers.Dense(hidden_units, activation="relu", name="hidden")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="genre")(x)
    return keras.Model(inputs, outputs, name="genre_mlp")


@dtype_policy("float32")
def build_tagging_mlp(x_train: np.ndarray, n_tags: int, hidden_units: tuple[int, ...] = (128, 64),
                      dropout: float = 0.5) -> keras.Model:
    """(B, D) -> (B, n_tags) sigmoid; Dense 128 -> BN -> ReLU, Dense 64 -> BN -> ReLU, dropout, output."""
    inputs, x = _input_block(x_train)
    for i, units in enumerate(hidden_units, start=1):
        x = layers.Dense(units, name=f"hidden{i}")(x)
        x = layers.BatchNormalization(name=f"hidden{i}_bn")(x)
        x = layers.ReLU(name=f"hidden{i}_relu")(x)
    x = layers.Dropout(dropout, name="dropout")(x)
    outputs = layers.Dense(n_tags, activation="sigmoid", name="tags")(x)
    return keras.Model(inputs, outputs, name="tagging_mlp")


class Probe:
    """A probe MLP compiled once and re-initialised for every repeat.

    Training is Keras' `fit` protocol (Adam, minibatches of a fresh shuffle each epoch, the last one partial,
    early stopping on the validation loss with the best epoch's weights restored) in a loop of its own: one
    traced call runs a whole epoch, so the per-epoch dataset and iterator `fit` builds, which cost more than
    the training itself on these small MLPs, are gone. The epoch, loss and predict functions are traced once
    per input shape and reused by every repeat (no retracing warning).

    Args:
      model: from `build_genre_mlp` / `build_tagging_mlp` (its `Normalization` already adapted).
      loss: Keras loss name (`sparse_categorical_crossentropy`: integer labels (n,); `binary_crossentropy`:
        multi-hot labels (n, tags)).
      config: training settings.
    """

    def __init__(self, model: keras.Model, loss: str, config: ProbeConfig):
        self.model = model
        self.config = config
        with dtype_policy("float32"):  # no loss-scaling wrapper around Adam
            model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=loss)
            model.optimizer.build(model.trainable_variables)
        self._loss = keras.losses.get(loss)
        self._train_epoch = tf.function(self._train_epoch_eager)
        self._mean_loss = tf.function(lambda x, y: tf.reduce_mean(self._loss(y, model(x, training=False))))
        self._forward = tf.function(lambda x: model(x, training=False))

    def _train_epoch_eager(self, x: tf.Tensor, y: tf.Tensor, order: tf.Tensor) -> None:
        """One epoch of Adam steps over `x` (n, D) and `y` in the row order `order` (n,) int32."""
        size = self.config.batch_size
        for start in tf.range(0, tf.shape(order)[0], size):
            rows = order[start:start + size]
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(self._loss(tf.gather(y, rows), self.model(tf.gather(x, rows), training=True)))
            variables = self.model.trainable_variables
            self.model.optimizer.apply(tape.gradient(loss, variables), variables)

    def _reinitialise(self) -> None:
        """Draws fresh weights from each layer's initializers (seeded by Keras' global seed) and clears the
        optimizer's state; the adapted `Normalization` statistics are kept."""
        for layer in self.model.layers:
            for name in ("kernel", "bias", "gamma", "beta", "moving_mean", "moving_variance"):
                variable, initializer = getattr(layer, name, None), getattr(layer, f"{name}_initializer", None)
                if variable is None or initializer is None:
                    continue
                config = initializer.get_config()
                if "seed" in config:
                    config["seed"] = None  # a new seed from the global one, not the layer's fixed seed
                variable.assign(type(initializer).from_config(config)(variable.shape, dtype=variable.dtype))
        for variable in self.model.optimizer.variables:
            if not variable.path.endswith("learning_rate"):
                variable.assign(keras.ops.zeros_like(variable))

    def fit(self, train: tuple[np.ndarray, np.ndarray], validation: tuple[np.ndarray, np.ndarray]) -> None:
        """Adam from fresh weights, shuffled by NumPy's global generator (seeded by `repeat`); stops once the
        validation loss has not improved for `patience` epochs and restores the best epoch's weights."""
        self._reinitialise()
        x, y = tf.constant(train[0]), tf.constant(train[1])
        x_val, y_val = tf.constant(validation[0]), tf.constant(validation[1])
        best, best_weights, wait = np.inf, None, 0
        for epoch in range(self.config.epochs):
            self._train_epoch(x, y, tf.constant(np.random.permutation(len(train[0])).astype(np.int32)))
            loss = float(self._mean_loss(x_val, y_val))
            wait += 1
            if best_weights is None or loss < best:
                best, best_weights, wait = loss, self.model.get_weights(), 0
            elif wait >= self.config.patience and epoch > 0:
                break
        self.model.set_weights(best_weights)

    def predict(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Model outputs for `x` (n, D) -> (n, outputs) float32."""
        parts = [self._forward(tf.constant(x[i:i + batch_size])) for i in range(0, max(len(x), 1), batch_size)]
        return np.concatenate([np.asarray(p, dtype=np.float32) for p in parts])


def repeat(run: Callable[[], dict[str, float]], repeats: int, seed: int, desc: str) -> dict[str, dict]:
    """Runs `run()` `repeats` times, seeding Python, NumPy and TF with seed + i before repeat i; the caller's
    seeds are restored afterwards.

    Returns, per metric name, `{"mean", "std", "values"}` (population std over repeats).
    """
    if repeats < 1:
        raise errors.ConfigError(f"repeats must be >= 1, got {repeats}")
    values: dict[str, list[float]] = {}
    with global_state_kept():
        for i in tqdm(range(repeats), desc=desc, unit="repeat"):
            keras.utils.set_random_seed(seed + i)
            for name, value in run().items():
                values.setdefault(name, []).append(float(value))
    return {name: {"mean": float(np.mean(v)), "std": float(np.std(v)), "values": v} for name, v in values.items()}
