"""`cmir-from-torch` (`python -m cmir_tf from-torch`, `export/from_torch.py`): one of the authors' published
PyTorch audio encoders -> a cmir_tf SavedModel.

    cmir-from-torch --checkpoint=models/contr_cf_g/audio_encoder.pt --variant=contr_cf_g --output=DIR \
        [--input_layout=authors_training|true] [--overwrite]

The SavedModel has the signatures of `cmir_tf.export.saved_model` (input `mel` (batch, 256 frames, 48 bands)),
so `cmir-evaluate` handles it like a model trained here. Needs the `[torch]` extra (PyTorch). The six released
encoders need no command: `--model=pretrained:NAME` downloads, verifies and converts them (`cmir-pretrained`);
this one converts a file fetched by hand, one of your own, or a released one in the other `--input_layout`.
Code: `cmir_tf.export.torch_import.export_torch_checkpoint`.
"""

from __future__ import annotations

from absl import flags

from cmir_tf.cli import runner
from cmir_tf.constants import VARIANTS
from cmir_tf.export.torch_import import INPUT_LAYOUTS, export_torch_checkpoint

FLAGS = flags.FLAGS
PROGRAM = "cmir-from-torch"


def define_flags() -> None:
    """Declares the flags; called by `run`, not at import, so that importing this module adds no flags."""
    flags.DEFINE_string("checkpoint", None, "The authors' `audio_encoder.pt`: a state dict of their AudioEncoder.")
    flags.DEFINE_enum("variant", None, VARIANTS, "Training variant the checkpoint comes from (recorded as metadata).")
    flags.DEFINE_string("output", None, "SavedModel directory to write.")
    flags.DEFINE_enum(
        "input_layout",
        "authors_training",
        INPUT_LAYOUTS,
        "authors_training: the network sees the (256, 48) input through the authors' training-time "
        "`.view(-1, 1, 48, 256)`, which reorders frames and bands, as all six published encoders were trained. "
        "true: it sees the input transposed, as the authors' encode.py fed it.",
    )
    flags.DEFINE_string(
        "state_dict_prefix", "", "Keep only the checkpoint keys with this prefix, removed (for a larger state dict)."
    )
    flags.DEFINE_bool("overwrite", False, "Replace an existing --output.")
    flags.mark_flags_as_required(["checkpoint", "variant", "output"])


def main(argv: list[str]) -> None:
    runner.no_arguments(argv)
    export_torch_checkpoint(FLAGS.checkpoint, FLAGS.variant, FLAGS.output, FLAGS.input_layout,
                            prefix=FLAGS.state_dict_prefix, overwrite=FLAGS.overwrite)


def run() -> None:
    """Console entry (`cmir-from-torch`, through `cmir_tf.cli.start`)."""
    define_flags()
    runner.run_main(main, PROGRAM)


if __name__ == "__main__":
    run()
