"""`python export/from_torch.py [flags]`: the checkout's shim of `cmir-from-torch` (code: `cmir_tf.export.from_torch_cli`;
`--help` lists its flags)."""

from cmir_tf import cli

if __name__ == "__main__":
    cli.start("from-torch")
