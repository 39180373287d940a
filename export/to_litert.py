"""`python export/to_litert.py [flags]`: the checkout's shim of `cmir-to-litert` (code: `cmir_tf.cli.to_litert`;
`--help` lists its flags)."""

from cmir_tf import cli

if __name__ == "__main__":
    cli.start("to-litert")
