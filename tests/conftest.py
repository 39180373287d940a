"""Session-wide test set-up shared by every test module (fixtures only, plus TF device set-up)."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

# Two logical CPU devices, so tf.distribute tests can run MirroredStrategy with two replicas on any CI
# machine. This must happen before TensorFlow initialises its devices, hence at conftest import.
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()],
)
