"""`python evaluate.py [flags]`: the checkout's shim of `cmir-evaluate` (code: `cmir_tf.evaluation.cli`;
`--help` lists its flags)."""

from cmir_tf import commands

if __name__ == "__main__":
    commands.start("evaluate")
