"""The first convolution, carrying the input BatchNorm's affine parameters.

The authors' encoder starts with BatchNorm2d(1) then a 3x3 convolution: z = conv(gamma * x_hat + beta, W) + b,
with x_hat the normalised mel. Convolution is linear, and 'same' padding pads gamma * x_hat + beta with
zeros, so

    z = conv(x_hat, gamma * W) + beta * conv(ones, W) + b

exactly. Written this way, no gradient with respect to the (batch, 256, 48) input is needed: x_hat depends
on the data only, and gamma and beta get their gradients through the 3x3x1x128 kernel product and a
batch-one convolution of ones. The ordinary form spent about 8 % of a CPU training step computing that
input gradient, only to reduce it to the two numbers gamma and beta.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cmir_tf")
class AffineInputConv2D(keras.layers.Layer):
    """3x3 convolution (stride 1, 'same' padding) of `input_gamma * x + input_beta`, x with one channel.

    Weights, in order: `kernel` (3, 3, 1, filters), `bias` (filters,) - initialised as Keras' Conv2D -
    then `input_gamma` (1,) and `input_beta` (1,), the affine parameters of the preceding BatchNorm (built
    with `center=False, scale=False`).

    Args:
      filters: output channels.
    """

    def __init__(self, filters: int, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters

    def build(self, input_shape) -> None:
        if input_shape[-1] != 1:
            raise ValueError(f"AffineInputConv2D takes one input channel, got shape {input_shape}")
        self.kernel = self.add_weight(name="kernel", shape=(3, 3, 1, self.filters), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")
        self.input_gamma = self.add_weight(name="input_gamma", shape=(1,), initializer="ones")
        self.input_beta = self.add_weight(name="input_beta", shape=(1,), initializer="zeros")

    def call(self, x):
        scaled = ops.conv(x, self.kernel * self.input_gamma, strides=1, padding="same")  # (B, T, M, C)
        ones = ops.ones((1, *x.shape[1:]), dtype=x.dtype)
        offset = self.input_beta * ops.conv(ones, self.kernel, strides=1, padding="same") + self.bias  # (1, T, M, C)
        return scaled + offset

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters}
