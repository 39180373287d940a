"""Training objectives: cross-modal and intra-modal NT-Xent, and the baselines' prediction losses."""

from cmir_tf.losses.baselines import cf_regression_loss, genre_multi_hot, genre_prediction_loss
from cmir_tf.losses.intra_modal import TERM_VIEWS, views_of
from cmir_tf.losses.nt_xent import nt_xent

__all__ = ["nt_xent", "TERM_VIEWS", "views_of", "genre_prediction_loss", "cf_regression_loss", "genre_multi_hot"]
