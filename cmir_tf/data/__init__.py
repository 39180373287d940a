"""Data: Melon Playlist Dataset preparation (`prepare`), the TFRecord reader."""

from cmir_tf.data.reader import make_dataset

__all__ = ["make_dataset"]
