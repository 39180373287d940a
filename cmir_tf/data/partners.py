"""Intra-modal positives: partner lists written once by prepare, and the reader's second view of each song.

A *partner* of a song is another song of the same split that shares a group with it: a playlist of the
prepared playlists (`--playlists`, train.json by default: the training playlists), an artist of Melon's
`artist_id_basket`, or a genre code of the prepared vocabulary. Lists are built within one split from the
songs that have a record in its shards, so a training song's partner is always a training song (no validation
or test song can become a positive) and validation's partners are validation songs (for the validation loss).
The test split gets none.

Storage (`partners.npz` in the prepared folder, written by a rename once the shards exist), per split `s` and
kind `k`: `s.song_ids` (N,) sorted; `s.k.song_group_offsets` (N + 1,) / `s.k.song_groups` (nnz,) the groups of
each song (CSR), `s.k.group_offsets` (G + 1,) / `s.k.group_members` (nnz,) each group's song rows; only groups of
two or more songs are kept, so a song has a partner iff it has a group. Memory is the number of
song-group memberships (Melon: a few million playlist entries), never the number of partner pairs (a
popular playlist of 1,000 songs holds 10^6 pairs). And where each song's mel is stored: `s.shard` (N,) index into
`s.shard_names`, `s.mel_offset` (N,) byte offset of the mel's float16 bytes inside that shard, `s.frames` (N,).

Drawing (`RecordViews`), for the record numbered `index` in an epoch (the reader's enumeration before its
shuffle): a group of the song uniformly, then another member of that group uniformly (so songs that share
more groups are likelier partners, as sampling pairs from playlists does), then a 256-frame crop of the partner
at a uniform offset, all from a NumPy generator seeded by (epoch seed, index, kind): the same for a given
(seed, epoch) whatever the order or resume point, which keeps exact resume and `--deterministic`.

Why read the partner's mel from the shard by byte offset: the partner is rarely near its anchor in the stream
(on Melon a playlist partner lies among ~520 k training songs), so pairing inside a batch or a shuffle window
would leave most songs without a partner, and a second tf.data pass keyed by song id costs a second read of
the split per epoch. A memory map of the uncompressed TFRecord shards reads exactly the partner's 256 frames
(24.6 kB) from the page cache, with no copy of the data on disk. The `self` view needs no lookup: it is a second
stateless crop of the record the reader already holds.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Sequence

import numpy as np
import tensorflow as tf

from cmir_tf.constants import CHUNK_FRAMES, N_MELS
from cmir_tf.data.atomic import write_npz
from cmir_tf.data.prepared import PreparedFolder

KINDS = ("playlist", "artist", "genre")
VIEWS = ("self", *KINDS)  # what a reader can add to a batch
PARTNER_SPLITS = ("train", "validation")
_MEL_BYTES_PER_FRAME = N_MELS * 2  # float16


def view_key(view: str) -> str:
    """Batch key of a view's (B, 256, 48) mel: `self_view_mel` or `<kind>_positive_mel`."""
    return "self_view_mel" if view == "self" else f"{view}_positive_mel"


def mask_key(view: str) -> str | None:
    """Batch key of a view's (B,) 0/1 mask (songs with a partner of that kind); None for `self` (all have one)."""
    return None if view == "self" else f"has_{view}_positive"


def song_groups(
    song_ids: Iterable[int], playlists: Sequence[dict], meta: Sequence[dict], genre_ids: dict[int, list[int]]
) -> dict[str, list[np.ndarray]]:
    """{kind: groups}, each group the sorted distinct ids among `song_ids` of one playlist, artist or genre code.

    Args:
      song_ids: the songs of one split that have a record.
      playlists: Melon playlists (`songs` lists), those the CF vectors are fitted on.
      meta: `song_meta.json` entries (`id`, `artist_id_basket`).
      genre_ids: song id -> vocabulary genre ids (the genre codes the records store).
    """
    members = set(int(s) for s in song_ids)
    by_artist: dict[object, list[int]] = {}
    for song in meta:
        if isinstance(song, dict) and song.get("id") in members:
            for artist in song.get("artist_id_basket") or ():
                by_artist.setdefault(artist, []).append(song["id"])
    by_genre: dict[int, list[int]] = {}
    for song in members:
        for genre in genre_ids.get(song, ()):
            by_genre.setdefault(genre, []).append(song)
    raw = {
        "playlist": ([s for s in p["songs"] if s in members] for p in playlists),
        "artist": by_artist.values(),
        "genre": by_genre.values(),
    }
    return {kind: [g for g in (np.unique(np.asarray(group, np.int64)) for group in groups) if len(g) >= 2]
            for kind, groups in raw.items()}


def _csr(lists: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.zeros(len(lists) + 1, np.int64)
    offsets[1:] = np.cumsum([len(x) for x in lists])
    values = np.concatenate(lists).astype(np.int64) if lists else np.zeros(0, np.int64)
    return offsets, values


def membership_arrays(song_ids: np.ndarray, groups: list[np.ndarray]) -> dict[str, np.ndarray]:
    """CSR arrays of one kind over the rows of `song_ids` (sorted): each song's groups and each group's rows."""
    rows = [np.searchsorted(song_ids, g) for g in groups]
    group_offsets, group_members = _csr(rows)
    group_of = np.repeat(np.arange(len(groups), dtype=np.int64), np.diff(group_offsets))
    order = np.argsort(group_members, kind="stable")
    counts = np.bincount(group_members, minlength=len(song_ids))
    song_group_offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return {"song_group_offsets": song_group_offsets, "song_groups": group_of[order],
            "group_offsets": group_offsets, "group_members": group_members}


def _records(path: str) -> Iterable[tuple[int, bytes]]:
    """(byte offset of the data, data) of each record of an uncompressed TFRecord file."""
    with open(path, "rb") as f:
        position = 0
        while header := f.read(12):
            (length,) = struct.unpack("<Q", header[:8])
            data = f.read(length)
            f.read(4)  # data CRC
            yield position + 12, data
            position += 12 + length + 4


def mel_locations(shard_paths: Sequence[str]) -> dict[str, np.ndarray]:
    """Scans shards: {song_ids, shard, mel_offset, frames} per record, sorted by song id."""
    from tensorflow.core.example import example_pb2

    ids, shard, offsets, frames = [], [], [], []
    for index, path in enumerate(shard_paths):
        for position, data in _records(path):
            features = example_pb2.Example.FromString(data).features.feature
            mel = features["mel"].bytes_list.value[0]
            ids.append(features["song_id"].int64_list.value[0])
            shard.append(index)
            offsets.append(position + data.find(mel))
            frames.append(features["mel_shape"].int64_list.value[0])
    order = np.argsort(np.asarray(ids, np.int64), kind="stable")
    return {"song_ids": np.asarray(ids, np.int64)[order], "shard": np.asarray(shard, np.int32)[order],
            "mel_offset": np.asarray(offsets, np.int64)[order], "frames": np.asarray(frames, np.int64)[order]}


def write_partner_lists(output_dir: str, playlists: Sequence[dict], meta: Sequence[dict],
                        genre_ids: dict[int, list[int]]) -> str:
    """Prepare's partner stage: writes `partners.npz` unless there (call once the shards are written).

    Returns the file's path. Each split's lists hold only that split's songs with a record (module docstring).
    """
    folder = PreparedFolder(output_dir)
    path = folder.partners_path
    if os.path.exists(path):
        return path
    arrays: dict[str, np.ndarray] = {}
    for split in PARTNER_SPLITS:
        shard_paths = folder.shard_files(split)
        located = mel_locations(shard_paths)
        arrays[f"{split}.shard_names"] = np.asarray([os.path.basename(p) for p in shard_paths])
        arrays.update({f"{split}.{name}": value for name, value in located.items()})
        for kind, groups in song_groups(located["song_ids"], playlists, meta, genre_ids).items():
            for name, value in membership_arrays(located["song_ids"], groups).items():
                arrays[f"{split}.{kind}.{name}"] = value
    write_npz(path, **arrays)
    return path


class PartnerLists:
    """One split's partner lists and mel locations (`partners.npz`), with memory maps of its shards."""

    def __init__(self, data_dir: str, split: str):
        folder = PreparedFolder(data_dir)
        path = folder.partners_path
        if split not in PARTNER_SPLITS:
            raise ValueError(f"partner lists exist for {PARTNER_SPLITS}, not {split!r}")
        if not os.path.exists(path):
            raise FileNotFoundError(f"{data_dir} has no {os.path.basename(path)} (prepared before intra-modal positives): "
                                    f"rerun python -m cmir_tf prepare with the same flags to add it")
        with np.load(path) as stored:
            arrays = {k[len(split) + 1:]: stored[k] for k in stored.files if k.startswith(split + ".")}
        self.song_ids = arrays["song_ids"]
        self.shard, self.mel_offset, self.frames = arrays["shard"], arrays["mel_offset"], arrays["frames"]
        self.kinds = {kind: {name: arrays[f"{kind}.{name}"] for name in
                             ("song_group_offsets", "song_groups", "group_offsets", "group_members")}
                      for kind in KINDS}
        self._paths = [folder.shard_path(str(n)) for n in arrays["shard_names"]]
        self._maps: dict[int, np.memmap] = {}

    def row(self, song_id: int) -> int:
        """Row of `song_id` in the lists; KeyError for a song without a record in this split."""
        row = int(np.searchsorted(self.song_ids, song_id))
        if row >= len(self.song_ids) or self.song_ids[row] != song_id:
            raise KeyError(f"song {song_id} has no record in these partner lists")
        return row

    def partners(self, row: int, kind: str) -> np.ndarray:
        """Every distinct partner row of `row` (for tests and inspection; drawing does not build this)."""
        lists = self.kinds[kind]
        groups = lists["song_groups"][lists["song_group_offsets"][row]:lists["song_group_offsets"][row + 1]]
        members = [lists["group_members"][lists["group_offsets"][g]:lists["group_offsets"][g + 1]] for g in groups]
        return np.setdiff1d(np.concatenate(members) if members else np.zeros(0, np.int64), [row])

    def draw(self, row: int, kind: str, rng: np.random.Generator) -> int | None:
        """A partner row of `row`: a group uniformly, then another member uniformly; None without a group."""
        lists = self.kinds[kind]
        start, stop = lists["song_group_offsets"][row], lists["song_group_offsets"][row + 1]
        if start == stop:
            return None
        group = lists["song_groups"][start + rng.integers(stop - start)]
        first, last = lists["group_offsets"][group], lists["group_offsets"][group + 1]
        member = lists["group_members"][first + rng.integers(last - first - 1)]
        return int(lists["group_members"][last - 1]) if member == row else int(member)

    def crop(self, row: int, rng: np.random.Generator) -> np.ndarray:
        """(256, 48) float16: a uniform-offset 256-frame crop of song `row`'s stored mel, read from its shard."""
        shard = int(self.shard[row])
        if shard not in self._maps:
            self._maps[shard] = np.memmap(self._paths[shard], dtype=np.uint8, mode="r")
        offset = int(rng.integers(self.frames[row] - CHUNK_FRAMES + 1))  # frames
        start = int(self.mel_offset[row]) + offset * _MEL_BYTES_PER_FRAME
        data = self._maps[shard][start:start + CHUNK_FRAMES * _MEL_BYTES_PER_FRAME]
        return np.frombuffer(data.tobytes(), "<f2").reshape(CHUNK_FRAMES, N_MELS)


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
            rng = np.random.default_rng([self.epoch_seed, int(index), KINDS.index(kind)])
            partner = self.lists.draw(row, kind, rng)
            crop = np.zeros((CHUNK_FRAMES, N_MELS), np.float16) if partner is None else self.lists.crop(partner, rng)
            out += [crop, np.float32(partner is not None)]
        return out

    def __call__(self, mel: tf.Tensor, song_id: tf.Tensor, index: tf.Tensor, crop_seed: tf.Tensor) -> dict:
        from cmir_tf.data.reader import random_crop

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
