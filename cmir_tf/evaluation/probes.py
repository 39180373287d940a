"""Downstream probes: small Keras MLPs on frozen embeddings, trained with early stopping, repeated.

Both MLPs start with a `Normalization` layer adapted on the training inputs (per-dimension standardisation),
so 1024-d `features` and layer-normalised 128-d `embedding`s train alike.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import numpy as np
from keras import layers
from tqdm import tqdm


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


def build_genre_mlp(x_train: np.ndarray, n_classes: int, hidden_units: int = 256) -> keras.Model:
    """(B, D) -> (B, n_classes) softmax; one hidden layer of `hidden_units` ReLU units (the paper's GTZAN probe)."""
    inputs, x = _input_block(x_train)
    x = layers.Dense(hidden_units, activation="relu", name="hidden")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="genre")(x)
    return keras.Model(inputs, outputs, name="genre_mlp")


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

    Its train, evaluation and predict functions are traced once per input shape and reused by every
    repeat (building a model per repeat retraced them each time: slow, and TensorFlow's retracing warning).

    Args:
      model: from `build_genre_mlp` / `build_tagging_mlp` (its `Normalization` already adapted).
      loss: Keras loss name.
      config: training settings.
    """

    def __init__(self, model: keras.Model, loss: str, config: ProbeConfig):
        self.model = model
        self.config = config
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=loss)

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
        """Adam from fresh weights, early stopping on validation loss, best weights restored."""
        self._reinitialise()
        stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=self.config.patience,
                                             restore_best_weights=True)
        self.model.fit(*train, validation_data=validation, epochs=self.config.epochs,
                       batch_size=self.config.batch_size, shuffle=True, callbacks=[stop], verbose=0)

    def predict(self, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        """Model outputs for `x` (n, D) -> (n, outputs) float32."""
        return np.asarray(self.model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32)


def repeat(run: Callable[[], dict[str, float]], repeats: int, seed: int, desc: str) -> dict[str, dict]:
    """Runs `run()` `repeats` times, seeding Python, NumPy and TF with seed + i before repeat i.

    Returns, per metric name, `{"mean", "std", "values"}` (population std over repeats).
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    values: dict[str, list[float]] = {}
    for i in tqdm(range(repeats), desc=desc, unit="repeat"):
        keras.utils.set_random_seed(seed + i)
        for name, value in run().items():
            values.setdefault(name, []).append(float(value))
    return {name: {"mean": float(np.mean(v)), "std": float(np.std(v)), "values": v} for name, v in values.items()}
