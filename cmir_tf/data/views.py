"""The reader's second view of each record for the intra-modal terms: another crop of the same mel (`self`), or
a crop of a partner song drawn from the partner lists prepare wrote (`partners.py`), per (epoch seed, record
number, kind): the same whatever the order or resume point."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from cmir_tf.batch_keys import PARTNER_KINDS, VIEWS, mask_key, view_key
from cmir_tf.constants import CHUNK_FRAMES, N_MELS
from cmir_tf.data.crops import random_crop
from cmir_tf.data.partners import PartnerLists


class RecordViews:
    """The reader's second views of one record: `self` (another crop of its own mel) and partner crops.

    Call inside a tf.data map with the record's parsed float16 mel (T, 48), song id, record number and the
    (2,) int64 crop seed of its anchor crop. Returns {view_key: (256, 48) float32, mask_key: () float32 0/1}.
    """

    def __init__(self, data_dir: str, split: str, views: Sequence[str], epoch_seed: int):
        unknown = set(views) - set(VIEWS)
        if unknown:
            raise ValueError(f"views must be among {VIEWS}, got {sorted(unknown)}")
        self.views = tuple(views)
        self.kinds = tuple(v for v in views if v != "self")
        self.epoch_seed = epoch_seed
        self.lists = PartnerLists(data_dir, split) if self.kinds else None

    def _partner_crops(self, song_id: np.int64, index: np.int64) -> list[np.ndarray]:
        row = self.lists.row(int(song_id))
        out = []
        for kind in self.kinds:
            rng = np.random.default_rng([self.epoch_seed, int(index), PARTNER_KINDS.index(kind)])
            partner = self.lists.draw(row, kind, rng)
            crop = np.zeros((CHUNK_FRAMES, N_MELS), np.float16) if partner is None else self.lists.crop(partner, rng)
            out += [crop, np.float32(partner is not None)]
        return out

    def __call__(self, mel: tf.Tensor, song_id: tf.Tensor, index: tf.Tensor, crop_seed: tf.Tensor) -> dict:
        out = {}
        if "self" in self.views:
            view_seed = tf.random.experimental.stateless_fold_in(crop_seed, 1)
            out[view_key("self")] = tf.cast(random_crop(mel, view_seed), tf.float32)
        if self.kinds:
            dtypes = [tf.float16, tf.float32] * len(self.kinds)
            values = tf.numpy_function(self._partner_crops, [song_id, index], dtypes, stateful=False)
            for number, kind in enumerate(self.kinds):
                out[view_key(kind)] = tf.cast(tf.ensure_shape(values[2 * number], [CHUNK_FRAMES, N_MELS]), tf.float32)
                out[mask_key(kind)] = tf.ensure_shape(values[2 * number + 1], [])
        return out
