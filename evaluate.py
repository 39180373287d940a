"""Evaluates an exported audio encoder on the paper's downstream tasks: a thin shim over
`cmir_tf.evaluation.cli` (flags: `python evaluate.py --help`)."""

from cmir_tf.evaluation import cli

if __name__ == "__main__":
    cli.run()
