"""`cmir-to-litert` (`python -m cmir_tf to-litert`, `export/to_litert.py`): the cmir_tf SavedModel -> LiteRT
(TensorFlow Lite) for on-device use.

    cmir-to-litert --model=SAVEDMODEL --output=FILE.tflite [--quantization=dynamic_int8]

Signatures `embed_mel` (any batch of 256 x 48 chunks) and `embed_waveform` (exactly 30 s of 16 kHz audio);
see `cmir_tf.export.litert`. Run the file with `ai_edge_litert.interpreter.Interpreter` (or, while TensorFlow
still ships it, `tf.lite.Interpreter`) and `get_signature_runner("embed_mel")`.
"""

from __future__ import annotations

from absl import flags

from cmir_tf.cli import runner
from cmir_tf.export.exported import ExportedModel
from cmir_tf.export.litert import QUANTIZATIONS, convert_to_litert

FLAGS = flags.FLAGS


def define_flags() -> None:
    """Declares the flags; called by `run`, not at import, so that importing this module adds no flags."""
    flags.DEFINE_string("model", None, "cmir_tf SavedModel folder (export_audio_encoder or train.py's export/), "
                        "or pretrained:NAME.")
    flags.DEFINE_string("output", None, "The .tflite file to write.")
    flags.DEFINE_enum("quantization", "float32", QUANTIZATIONS,
                      "float32 weights, or int8 weights with float activations (dynamic-range quantization).")
    flags.mark_flags_as_required(["model", "output"])


def main(argv: list[str]) -> None:
    runner.no_arguments(argv)
    size = convert_to_litert(ExportedModel(FLAGS.model), FLAGS.output, FLAGS.quantization)
    print(f"wrote {FLAGS.output} ({FLAGS.quantization}, {size / 2**20:.1f} MiB)")


def run() -> None:
    """Console entry (`cmir-to-litert`, through `cmir_tf.cli.start`)."""
    define_flags()
    runner.run_main(main, "cmir-to-litert")


if __name__ == "__main__":
    run()
