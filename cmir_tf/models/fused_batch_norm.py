"""BatchNormalization that runs TensorFlow's fused kernel on single-replica 4-D inputs.

Keras 3 normalises with separate moment, subtract and scale ops; on 2-core CPUs that made the audio
encoder's BatchNorm layers about a third of a training step. TensorFlow's `FusedBatchNormV3` (oneDNN on
CPU, cuDNN on GPU) does the same in one pass. The layer keeps Keras' variables (gamma, beta, moving mean and
variance), so checkpoints, weight import and export are unchanged; it falls back to the Keras computation
where the fused kernel does not apply: under several replicas (synchronized statistics), for inputs that are
not 4-D (the projection's BatchNorm1d), for float64, and with a mask.
"""

from __future__ import annotations

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="cmir_tf")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` over the last axis; see the module docstring.

    The moving variance is updated with the unbiased batch variance (as PyTorch's BatchNorm2d does, and as
    TensorFlow's fused kernel returns it); the batch is normalised with the biased one, as both frameworks do.
    """

    def _fused_applies(self, inputs, mask) -> bool:
        context = tf.distribute.get_replica_context()
        replicas = context.num_replicas_in_sync if context is not None else 1
        return (
            mask is None
            and replicas == 1
            and len(inputs.shape) == 4
            and self.axis in (-1, 3, [3], [-1])
            and inputs.dtype in (tf.float32, tf.float16, tf.bfloat16)
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fused_applies(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        training = bool(training) and self.trainable
        scale = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones(inputs.shape[-1], tf.float32)
        offset = tf.cast(self.beta, tf.float32) if self.center else tf.zeros(inputs.shape[-1], tf.float32)
        if not training:
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(
                inputs,
                scale,
                offset,
                mean=tf.cast(self.moving_mean, tf.float32),
                variance=tf.cast(self.moving_variance, tf.float32),
                epsilon=self.epsilon,
                is_training=False,
            )
            return y
        y, batch_mean, batch_variance = tf.compat.v1.nn.fused_batch_norm(
            inputs, scale, offset, epsilon=self.epsilon, is_training=True
        )
        for moving, batch in ((self.moving_mean, batch_mean), (self.moving_variance, batch_variance)):
            moving.assign(moving * self.momentum + tf.cast(batch, moving.dtype) * (1.0 - self.momentum))
        return y
