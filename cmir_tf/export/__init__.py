"""SavedModel (and `.keras`) export of the audio encoder and the `cmir-embed` command line."""

from cmir_tf.export.checkpoint import restore_audio_encoder
from cmir_tf.export.exported import ExportedModel, load_keras_encoder
from cmir_tf.export.saved_model import AudioEncoderModule, export_audio_encoder

__all__ = ["AudioEncoderModule", "ExportedModel", "export_audio_encoder", "load_keras_encoder",
           "restore_audio_encoder"]
