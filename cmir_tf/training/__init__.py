"""Training: strategy choice, the distributed loop with exact resume, TensorBoard summaries."""

from cmir_tf.training.config import PRECISIONS, TrainConfig
from cmir_tf.training.loop import NonFiniteLossError, train
from cmir_tf.training.strategy import STRATEGIES, make_strategy

__all__ = ["TrainConfig", "train", "NonFiniteLossError", "make_strategy", "STRATEGIES", "PRECISIONS"]
