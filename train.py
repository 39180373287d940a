"""Trains one cmir-tf variant: `python train.py --flagfile=contrcf_g.flags --data_dir=... --model_dir=...`.

Flags default to the paper's values; the six flagfiles select the variants. Rerun the same command to
resume. A thin shim over `cmir_tf.training.cli` (which documents the exit statuses).
"""

from cmir_tf.training import cli

if __name__ == "__main__":
    cli.run()
