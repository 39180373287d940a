"""Small shared pieces of the encoders: the id-range check layer and the output dtype."""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="cmir_tf")
class CheckIdRange(keras.layers.Layer):
    """Passes integer ids through, failing with a clear message when one lies outside `[0, vocab_size)`.

    The check runs in the graph (`tf.debugging`), so it raises `tf.errors.InvalidArgumentError` at run time;
    without it an out-of-range lookup returns zeros silently on GPU.
    """

    def __init__(self, vocab_size: int, modality: str = "genre", **kwargs):
        super().__init__(**kwargs)
        self.vocab_size = int(vocab_size)
        self.modality = modality  # "genre" or "tag": named in the messages

    def call(self, ids):
        what = self.modality
        checks = [
            tf.debugging.assert_non_negative(ids, message=f"{what} ids must be >= 0 (0 = padding)"),
            tf.debugging.assert_less(
                ids,
                tf.cast(self.vocab_size, ids.dtype),
                message=f"{what} id outside the vocabulary: ids must be < {self.vocab_size} "
                f"(the {what} word2vec matrix has {self.vocab_size} rows, row 0 = padding)",
            ),
        ]
        with tf.control_dependencies(checks):
            return tf.identity(ids)

    def get_config(self) -> dict:
        return {**super().get_config(), "vocab_size": self.vocab_size, "modality": self.modality}


def output_dtype() -> str | None:
    """Dtype of an encoder's output layer: float32 under a mixed policy (so embeddings leave in full
    precision), else None (the global policy, e.g. float64 for exact-arithmetic tests)."""
    return "float32" if keras.mixed_precision.global_policy().name.startswith("mixed") else None
