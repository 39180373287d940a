"""Data: Melon Playlist Dataset preparation (`prepare`), the TFRecord reader, and the demo corpus (`synthetic`)."""

from cmir_tf.data.reader import make_dataset

__all__ = ["make_dataset"]
