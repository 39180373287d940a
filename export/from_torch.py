"""`python export/from_torch.py [flags]`: the checkout's shim of `cmir-from-torch` (code: `cmir_tf.cli.from_torch`;
`--help` lists its flags)."""

from cmir_tf import cli

if __name__ == "__main__":
    cli.start("from-torch")
