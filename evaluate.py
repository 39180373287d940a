"""`python evaluate.py [flags]`: the checkout's shim of `cmir-evaluate` (code: `cmir_tf.cli.evaluate`;
`--help` lists its flags)."""

from cmir_tf import cli

if __name__ == "__main__":
    cli.start("evaluate")
