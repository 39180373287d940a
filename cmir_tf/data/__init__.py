"""Data: preparation of the Melon Playlist Dataset or of a catalogue (`prepare`, `catalogue/`), the TFRecord reader."""

from cmir_tf.data.reader import make_dataset

__all__ = ["make_dataset"]
