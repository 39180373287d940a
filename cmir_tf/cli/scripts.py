"""The console scripts' targets (setup.cfg): `cmir-NAME = cmir_tf.cli.scripts:NAME`, "-" written "_". A module of
their own, so that these names do not shadow the command modules `cmir_tf.cli.NAME`."""

import functools

from cmir_tf.cli import start

prepare = functools.partial(start, "prepare")
train = functools.partial(start, "train")
export = functools.partial(start, "export")
from_torch = functools.partial(start, "from-torch")
to_litert = functools.partial(start, "to-litert")
evaluate = functools.partial(start, "evaluate")
ablation = functools.partial(start, "ablation")
embed = functools.partial(start, "embed")
search = functools.partial(start, "search")
pretrained = functools.partial(start, "pretrained")
corpus = functools.partial(start, "corpus")
explore = functools.partial(start, "explore")
