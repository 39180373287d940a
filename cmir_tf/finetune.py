"""Fine-tuning the exported audio encoder end to end with a new classification head, in plain Keras.

The usual two phases (keras.io "Transfer learning & fine-tuning"): first train only the head on the frozen
encoder, then unfreeze the encoder and train everything at a learning rate ~100x lower. The encoder always
runs in inference mode (`training=False`), so its BatchNorm layers keep their pre-trained statistics even
when unfrozen: small fine-tuning batches would otherwise overwrite them. The encoder comes from an export
through `cmir_tf.export.load_keras_encoder`, which opens it with `ExportedModel` first (a cmir-tf export with
this package's log-mel front end, or `pretrained:NAME`), as every other consumer does.

    from cmir_tf.export import load_keras_encoder
    from cmir_tf.finetune import build_classifier, fine_tune
    encoder = load_keras_encoder("runs/contr_cf_g/export")    # or "pretrained:contr_cf_g", the authors' weights
    classifier = build_classifier(encoder, num_classes=10)
    fine_tune(classifier, encoder, train_ds, validation_ds)   # datasets of (mel (B, 256, 48), label (B,))
"""

from __future__ import annotations

import dataclasses

import keras

from cmir_tf.constants import CHUNK_FRAMES, N_MELS


@dataclasses.dataclass(frozen=True)
class FineTuneConfig:
    """Epochs and Adam learning rates of the two phases."""

    head_epochs: int = 10
    head_learning_rate: float = 1e-3
    full_epochs: int = 10
    full_learning_rate: float = 1e-5


def build_classifier(encoder: keras.Model, num_classes: int, output: str = "features",
                     dropout: float = 0.3) -> keras.Model:
    """`mel` (B, 256, 48) log-mel in dB -> class logits (B, num_classes), through `encoder`'s `output`
    (`features`, 1024-d, or `embedding`, 128-d), dropout and a new dense layer. Only the encoder layers that
    lead to `output` are part of the classifier (the projection head is left out for `features`)."""
    trunk = keras.Model(encoder.input, encoder.output[output], name=f"encoder_{output}")  # shares the weights
    mel = keras.Input(shape=(CHUNK_FRAMES, N_MELS), name="mel")
    x = trunk(mel, training=False)
    x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    logits = keras.layers.Dense(num_classes, name="head", dtype="float32")(x)
    return keras.Model(mel, logits, name="cmir_tf_classifier")


def _compile_and_fit(classifier: keras.Model, learning_rate: float, epochs: int, train, validation) -> dict:
    classifier.compile(optimizer=keras.optimizers.Adam(learning_rate),
                       loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return classifier.fit(train, validation_data=validation, epochs=epochs, shuffle=False, verbose=0).history


def fine_tune(classifier: keras.Model, encoder: keras.Model, train, validation=None,
              config: FineTuneConfig = FineTuneConfig()) -> dict[str, dict]:
    """Trains the head on the frozen `encoder`, then everything; `train` and `validation` are tf.data datasets
    (or anything `Model.fit` takes) of `(mel (B, 256, 48), label (B,) int)`.

    Returns:
      `{"head": history, "full": history}`, Keras `History.history` dicts (per-epoch loss and accuracy).
    """
    encoder.trainable = False
    head = _compile_and_fit(classifier, config.head_learning_rate, config.head_epochs, train, validation)
    encoder.trainable = True  # recompiled below, as Keras requires after changing `trainable`
    full = _compile_and_fit(classifier, config.full_learning_rate, config.full_epochs, train, validation)
    return {"head": head, "full": full}
