"""`python export/export_savedmodel.py [flags]`: the checkout's shim of `cmir-export` (code: `cmir_tf.cli.export`;
`--help` lists its flags)."""

from cmir_tf import cli

if __name__ == "__main__":
    cli.start("export")
