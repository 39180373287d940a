"""LiteRT (TensorFlow Lite) conversion of the cmir_tf SavedModel, for on-device use.

One `.tflite` flatbuffer with two signatures, TFLite builtin ops only (no Flex delegate needed):

- `embed_mel`: `mel` (B, 256, 48) log-mel in dB -> `features` (B, 1024), `embedding` (B, 128); the batch is
  resizable (`Interpreter.resize_tensor_input`; signature runners resize it themselves);
- `embed_waveform`: `waveform` (480000,), exactly 30 s of 16 kHz mono in [-1, 1] -> `log_mel` (1876, 48),
  per-chunk `features` (8, 1024) and `embedding` (8, 128), and their means `mean_features` (1024,),
  `mean_embedding` (128,): the SavedModel's `embed_waveform` at that one length, without its NaN check
  (on device, the caller checks its samples).

`quantization="dynamic_int8"` stores the weights as int8 (dynamic-range quantization: activations stay
float, weights are dequantized per channel on the fly), about 4x smaller.

`load_interpreter` runs the file with LiteRT's own `ai_edge_litert` package where installed, else with the
interpreter TensorFlow 2.21 still ships (`tf.lite.Interpreter`, deprecated in favour of `ai_edge_litert`).
"""

from __future__ import annotations

import os
import tempfile
import warnings

import tensorflow as tf

from cmir_tf import errors
from cmir_tf.audio import chunk_mel, log_mel_spectrogram
from cmir_tf.constants import CHUNK_FRAMES, N_MELS, SAMPLE_RATE
from cmir_tf.data.atomic import atomic_path
from cmir_tf.export.exported import ExportedModel

WAVEFORM_SECONDS = 30
WAVEFORM_SAMPLES = WAVEFORM_SECONDS * SAMPLE_RATE
QUANTIZATIONS = ("float32", "dynamic_int8")
SIGNATURES = ("embed_mel", "embed_waveform")


class OnDeviceModule(tf.Module):
    """The SavedModel's `embed_mel` and a fixed-length `embed_waveform`, with static shapes LiteRT can plan."""

    def __init__(self, saved_model):
        super().__init__()
        self.saved_model = saved_model

    @tf.function(input_signature=[tf.TensorSpec([None, CHUNK_FRAMES, N_MELS], tf.float32, name="mel")])
    def embed_mel(self, mel: tf.Tensor) -> dict[str, tf.Tensor]:
        return self.saved_model.signatures["embed_mel"](mel=mel)

    @tf.function(input_signature=[tf.TensorSpec([WAVEFORM_SAMPLES], tf.float32, name="waveform")])
    def embed_waveform(self, waveform: tf.Tensor) -> dict[str, tf.Tensor]:
        log_mel = log_mel_spectrogram(waveform)  # (1876, 48)
        outputs = self.saved_model.signatures["embed_mel"](mel=chunk_mel(log_mel))  # 8 chunks
        return {
            **outputs,
            "mean_features": tf.reduce_mean(outputs["features"], axis=0),
            "mean_embedding": tf.reduce_mean(outputs["embedding"], axis=0),
            "log_mel": log_mel,
        }


def convert_to_litert(model: ExportedModel | str, output_path: str, quantization: str = "float32") -> int:
    """Converts a cmir_tf SavedModel (opened and checked by `ExportedModel`: a cmir-tf export with this package's
    front end, which the waveform signature rebuilds) to a `.tflite` file (module docstring), float32 like
    every export, written to a temporary name and renamed into place. Returns its size in bytes."""
    if quantization not in QUANTIZATIONS:
        raise errors.ConfigError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    module = OnDeviceModule(ExportedModel.of(model).saved_model)
    errors.require_writable_dir(os.path.dirname(os.path.abspath(output_path)), "the .tflite file's folder")
    with tempfile.TemporaryDirectory() as scratch:
        signatures = {name: getattr(module, name) for name in SIGNATURES}
        tf.saved_model.save(module, scratch, signatures=signatures)
        converter = tf.lite.TFLiteConverter.from_saved_model(scratch, signature_keys=list(SIGNATURES))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        if quantization == "dynamic_int8":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        flatbuffer = converter.convert()
    with atomic_path(output_path) as tmp, open(tmp, "wb") as f:
        f.write(flatbuffer)
    return len(flatbuffer)


def load_interpreter(path: str, num_threads: int | None = None):
    """A LiteRT interpreter over the `.tflite` file at `path` (use `.get_signature_runner(name)`);
    `num_threads` CPU threads (None: the interpreter's default)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        Interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*tf.lite.Interpreter is deprecated", category=UserWarning)
        return Interpreter(model_path=path, num_threads=num_threads)
