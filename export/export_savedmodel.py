"""`python export/export_savedmodel.py [flags]`: the checkout's shim of `cmir-export` (code: `cmir_tf.export.export_cli`;
`--help` lists its flags)."""

from cmir_tf import commands

if __name__ == "__main__":
    commands.start("export")
