"""Audio encoder: a 7-block VGG-style CNN over (time, mel) patches plus a projection head.

The architecture is the paper's (Ferraro et al. 2021, Sec. 2.1) and matches, weight for weight, the
authors' PyTorch `AudioEncoder` (3,989,762 trainable parameters), so their published checkpoints can be
imported (`export/from_torch.py`).
"""

from __future__ import annotations

import keras
from keras import layers

from cmir_tf.constants import CHUNK_FRAMES, EMBEDDING_DIM, FEATURES_DIM, N_MELS
from cmir_tf.models.affine_input_conv import AffineInputConv2D
from cmir_tf.models.fused_batch_norm import FusedBatchNormalization
from cmir_tf.models.input_checks import output_dtype

CONV_CHANNELS = (128, 128, 256, 256, 256, 256, 512)
# Pool sizes on (time, mel); the authors' (mel, time) pools 2,2,2,2,(1,2),(1,2),2 transposed.
POOL_SIZES = ((2, 2), (2, 2), (2, 2), (2, 2), (2, 1), (2, 1), (2, 2))
HIDDEN_UNITS = 512
# PyTorch BatchNorm defaults, so that imported running statistics mean the same thing.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def _batch_norm(name: str, affine: bool = True) -> layers.BatchNormalization:
    # synchronized: under tf.distribute the statistics are those of the global batch, so R replicas of
    # batch B train exactly like one device of batch R*B (what the cross-replica NT-Xent also guarantees).
    # On one replica the fused kernel runs instead.
    return FusedBatchNormalization(
        momentum=BN_MOMENTUM, epsilon=BN_EPSILON, center=affine, scale=affine, synchronized=True, name=name
    )


def build_audio_encoder(dropout: float = 0.5, name: str = "audio_encoder") -> keras.Model:
    """Builds the audio encoder.

    Args:
      dropout: dropout rate between the two projection layers (the paper's p = 0.5).
      name: Keras model name.

    Returns:
      A functional `keras.Model` mapping `mel` (batch, 256 frames, 48 mel bands) float32 log-mel in dB to a
      dict with `features` (batch, 1024), the flattened CNN output, and `embedding` (batch, 128), the
      layer-normalised projection used by the contrastive losses.
    """
    mel = keras.Input(shape=(CHUNK_FRAMES, N_MELS), name="mel")
    # Keras raises ValueError naming the expected (None, 256, 48) for any other input shape.
    x = layers.Reshape((CHUNK_FRAMES, N_MELS, 1), name="add_channel")(mel)
    # The input BatchNorm's gamma and beta live in conv1 (`AffineInputConv2D`: the same function, cheaper).
    x = _batch_norm("input_bn", affine=False)(x)
    for block, (channels, pool) in enumerate(zip(CONV_CHANNELS, POOL_SIZES), start=1):
        if block == 1:
            x = AffineInputConv2D(channels, name="conv1")(x)
        else:
            x = layers.Conv2D(channels, 3, padding="same", name=f"conv{block}")(x)
        x = _batch_norm(f"conv{block}_bn")(x)
        # Pool before ReLU: max and ReLU commute (ReLU is monotonic), so the outputs and gradients are those
        # of the authors' conv -> BN -> ReLU -> pool, and ReLU runs on a 2-4x smaller tensor.
        x = layers.MaxPooling2D(pool, name=f"conv{block}_pool")(x)
        x = layers.ReLU(name=f"conv{block}_relu")(x)
    # (batch, 2 time, 1 mel, 512 channels) -> (batch, 1024); float32 outputs under mixed precision.
    features = layers.Flatten(name="features", dtype=output_dtype())(x)
    h = layers.Dense(HIDDEN_UNITS, name="fc1")(features)
    h = _batch_norm("fc1_bn")(h)
    h = layers.ReLU(name="fc1_relu")(h)
    h = layers.Dropout(dropout, name="fc_dropout")(h)
    h = layers.Dense(EMBEDDING_DIM, name="fc2")(h)
    embedding = layers.LayerNormalization(epsilon=1e-6, name="embedding", dtype=output_dtype())(h)
    assert features.shape[-1] == FEATURES_DIM
    return keras.Model(inputs=mel, outputs={"features": features, "embedding": embedding}, name=name)
