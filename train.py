"""`python train.py --flagfile=contrcf_g.flags --data_dir=... --model_dir=...`: the checkout's shim of
`cmir-train` (code: `cmir_tf.cli.train`; `--help` lists its flags). Flags default to the paper's values; the
paper's flagfiles select the variants. Rerun the same command to resume."""

from cmir_tf import cli

if __name__ == "__main__":
    cli.start("train")
