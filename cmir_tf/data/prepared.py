"""`PreparedFolder`: the one owner of a prepared folder's layout (the `--output_dir` of prepare).

Every file name of a prepared folder lives here, and every consumer (prepare's stages, the reader, training,
evaluation, the genre vocabulary) reaches the folder through this handle:

  manifest.json       written last by prepare: counts, shapes, flags, input fingerprints, the playlist files
                      used, and per shard its record count, size in bytes and sha256 (what `verify` checks)
  report.json         every skipped input by reason
  splits.json         {"train"|"validation"|"test": song ids}
  genre_vocab.json, genre_word2vec.npy, genre_names.json   the genre vocabulary, its word2vec matrix, names
  cf_playlist_vectors.npy, cf_playlist_ids.npy   LightFM playlist (user) vectors and their playlist ids
  partners.npz        intra-modal partner lists (train and validation splits, each within its split)
  tag_vocab.json, tag_word2vec.npy   the playlist-tag vocabulary (tag -> id from 1) and its word2vec matrix
  song_tags.npz       every prepared song's playlist-tag bag (`cmir_tf.data.playlist_tags`): `song_ids` (N,),
                      `tag_ids` (N, 10) zero-padded, best first; songs without tags absent
  tfrecords/<split>-<i>-of-<n>.tfrecord   the shards
  catalogue/          a catalogue source's Melon-format view (song_meta.json, genre_gn_all.json, train.json,
                      arena_mel/) and its default mel cache, mel_cache/ (`cmir_tf.data.catalogue`)
  cache/              prepare's stage files: config.json (recipe), songs.json, cf_vectors.npy,
                      cf_song_ids.npy, cf_model.pkl (LightFM fit in progress), shards/<shard>.json
  .lock               the lock file of the one prepare writing the folder (`cmir_tf.data.lock`)
"""

from __future__ import annotations

import glob
import json
import os
import shlex
from typing import Any

import numpy as np

from cmir_tf import errors
from cmir_tf.data import melon, splits
from cmir_tf.data.atomic import TEMPORARY_SUFFIX
from cmir_tf.data.checksum import sha256_file

MANIFEST = "manifest.json"
REPORT = "report.json"
SPLITS = "splits.json"
GENRE_VOCAB = "genre_vocab.json"
GENRE_WORD2VEC = "genre_word2vec.npy"
GENRE_NAMES = "genre_names.json"
PLAYLIST_VECTORS = "cf_playlist_vectors.npy"  # LightFM user vectors (factors, bias), for cold-start evaluation
PLAYLIST_IDS = "cf_playlist_ids.npy"  # their Melon playlist ids (row order)
PARTNERS = "partners.npz"  # intra-modal partner lists of the train and validation splits (`cmir_tf.data.partners`)
TAG_VOCAB = "tag_vocab.json"
TAG_WORD2VEC = "tag_word2vec.npy"
SONG_TAGS = "song_tags.npz"
TFRECORDS = "tfrecords"
CACHE = "cache"
CATALOGUE = "catalogue"  # a catalogue source's Melon-format view (`cmir_tf.data.catalogue`)
PREPARE_COMMAND = "python -m cmir_tf prepare"  # or the console script cmir-prepare
SOURCE_FLAGS = ("melon_dir", "audio_dir", "tracks", "playlists_from")  # the manifest's `source`


class NotPreparedError(errors.InputError, FileNotFoundError):
    """The folder holds no finished prepared data (no manifest.json); the message gives the prepare command."""


class DamagedFolderError(errors.InputError, RuntimeError):
    """A file of the folder is damaged: a shard's size or checksum differs from the manifest's record, or one of
    its JSON files (the manifest, a stage's record) is not readable JSON. The message names the file and the fix."""


def read_json(path: str) -> Any:
    """A JSON file prepare wrote; `DamagedFolderError` naming it when it is unreadable or not JSON (a missing
    file raises `FileNotFoundError`: callers check for presence first)."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DamagedFolderError(f"{path} is damaged ({e}): prepare the folder again into a new --output_dir, "
                                 "or delete this file and rerun the same prepare command to rewrite it") from e


def shard_name(split: str, index: int, count: int) -> str:
    return f"{split}-{index:05d}-of-{count:05d}.tfrecord"


class PreparedFolder:
    """A prepared data folder: where each file is, and reading and checking what prepare wrote.

    Paths are properties; nothing is read when the handle is made, so prepare uses it on a folder it has
    not written yet.
    """

    def __init__(self, path: str):
        self.path = path
        self._manifest: dict | None = None

    def _file(self, *parts: str) -> str:
        return os.path.join(self.path, *parts)

    # ---- layout ----
    manifest_path = property(lambda self: self._file(MANIFEST))
    report_path = property(lambda self: self._file(REPORT))
    splits_path = property(lambda self: self._file(SPLITS))
    genre_vocab_path = property(lambda self: self._file(GENRE_VOCAB))
    genre_word2vec_path = property(lambda self: self._file(GENRE_WORD2VEC))
    genre_names_path = property(lambda self: self._file(GENRE_NAMES))
    playlist_vectors_path = property(lambda self: self._file(PLAYLIST_VECTORS))
    playlist_ids_path = property(lambda self: self._file(PLAYLIST_IDS))
    partners_path = property(lambda self: self._file(PARTNERS))
    tag_vocab_path = property(lambda self: self._file(TAG_VOCAB))
    tag_word2vec_path = property(lambda self: self._file(TAG_WORD2VEC))
    song_tags_path = property(lambda self: self._file(SONG_TAGS))  # written last by the tag stage
    tfrecords_dir = property(lambda self: self._file(TFRECORDS))
    recipe_path = property(lambda self: self._file(CACHE, "config.json"))
    songs_path = property(lambda self: self._file(CACHE, "songs.json"))
    cf_vectors_path = property(lambda self: self._file(CACHE, "cf_vectors.npy"))
    cf_song_ids_path = property(lambda self: self._file(CACHE, "cf_song_ids.npy"))  # written last by the CF stage
    cf_model_path = property(lambda self: self._file(CACHE, "cf_model.pkl"))
    catalogue_path = property(lambda self: self._file(CATALOGUE))  # a catalogue's Melon-format view
    mel_cache_path = property(lambda self: self._file(CATALOGUE, "mel_cache"))  # its default mel cache

    def shard_path(self, name: str) -> str:
        return self._file(TFRECORDS, name)

    def shard_stats_path(self, name: str) -> str:
        """prepare's record of a finished shard (count, bytes, sha256, skipped songs)."""
        return self._file(CACHE, "shards", name + ".json")

    def stage_outputs(self) -> list[str]:
        """Files (or patterns) whose presence means a stage has finished: the recipe is then bound."""
        return [self._file(CATALOGUE, "song_meta.json"), self.songs_path, self.genre_vocab_path, self.splits_path, self.cf_song_ids_path,
                self.song_tags_path, self.shard_path("*.tfrecord"), self.manifest_path]

    def scratch_files(self) -> list[str]:
        """Temporary files of a killed writer (`cmir_tf.data.atomic`)."""
        return glob.glob(self._file("**", f".*{TEMPORARY_SUFFIX}"), recursive=True)

    # ---- reading ----
    def is_prepared(self) -> bool:
        return os.path.exists(self.manifest_path)

    def manifest(self) -> dict:
        """manifest.json, read once; `NotPreparedError` saying how to prepare the folder when it is missing."""
        if self._manifest is None:
            if not self.is_prepared():
                raise NotPreparedError(
                    f"no prepared data in {self.path!r} ({self.manifest_path} is missing). Prepare it first:\n"
                    f"  {PREPARE_COMMAND} --melon_dir=PATH/TO/melon --output_dir={self.path}\n"
                    f"  (or from a folder of audio: {PREPARE_COMMAND} --audio_dir=MUSIC --output_dir={self.path}, "
                    "docs/catalogue.md)\n"
                    "(for the demo corpus: python -m cmir_tf corpus --output_dir=demo_run/corpus, "
                    "then prepare with --melon_dir=demo_run/corpus/melon)"
                )
            self._manifest = read_json(self.manifest_path)
        return self._manifest

    def playlist_files(self) -> tuple[str, ...]:
        """The Melon playlist files the folder was prepared from: the manifest's `playlist_files`; train.json
        alone (the paper's protocol) without a manifest; all of them for format 1, which had no entry."""
        if not self.is_prepared():
            return melon.PLAYLIST_CHOICES["train"]
        return tuple(self.manifest().get("playlist_files", melon.PLAYLIST_FILES))

    def genre_level(self) -> str:
        return self.manifest()["flags"]["genre_level"]

    def _json(self, path: str) -> Any:
        """A prepared JSON file; `NotPreparedError` (a FileNotFoundError) naming it when it is missing."""
        if not os.path.exists(path):
            raise NotPreparedError(f"{path} is missing: {self.path} is not a prepared folder (or an unfinished "
                                   f"one); run {PREPARE_COMMAND} --output_dir={self.path} ...")
        return read_json(path)

    def split_ids(self, split: str) -> list[int]:
        """Song ids of `split` ("train", "validation" or "test") in splits.json."""
        return self._json(self.splits_path)[split]

    def split_fingerprint(self, split: str = "train") -> str:
        """`cmir_tf.data.splits.fingerprint` of `split`: what an export records as its training split."""
        return splits.fingerprint(self.split_ids(split))

    def genre_vocab(self) -> dict[str, int]:
        """{genre code: id}, ids 1..V (0 is the padding)."""
        return self._json(self.genre_vocab_path)

    def genre_names(self) -> dict[str, str]:
        """{genre code: name}; empty when Melon's genre_gn_all.json was absent."""
        return read_json(self.genre_names_path) if os.path.exists(self.genre_names_path) else {}

    def genre_word2vec(self) -> np.ndarray:
        """(V + 1, F_w) float32; row i + 1 is the vector of genre id i + 1, row 0 zeros."""
        return np.load(self.genre_word2vec_path)

    def has_tags(self) -> bool:
        """Whether the folder has a playlist-tag vocabulary (not one prepared before tags, nor one whose
        playlists carry no tag used often enough)."""
        return os.path.exists(self.tag_word2vec_path) and bool(self.tag_vocab())

    def tag_vocab(self) -> dict[str, int]:
        """{playlist tag: id}, ids 1..V (0 is the padding); empty when the playlists carried no usable tag."""
        return self._json(self.tag_vocab_path)

    def tag_word2vec(self) -> np.ndarray:
        """(V + 1, F_w) float32; row i + 1 is the vector of tag id i + 1, row 0 zeros."""
        if not self.has_tags():
            raise NotPreparedError(f"{self.path} has no playlist-tag vocabulary ({self.tag_word2vec_path} is "
                                   "missing): prepare it again with this version into a new folder, from playlists "
                                   "with tags")
        return np.load(self.tag_word2vec_path)

    def song_tags(self) -> dict[int, list[int]]:
        """{song id: its tag bag, tag ids best first}, for every prepared song that has tags (any split)."""
        if not os.path.exists(self.song_tags_path):
            raise NotPreparedError(f"{self.song_tags_path} is missing: {self.path} was prepared before playlist "
                                   f"tags; run {PREPARE_COMMAND} into a new folder")
        with np.load(self.song_tags_path) as bags:
            return {song: [t for t in row if t] for song, row in zip(bags["song_ids"].tolist(),
                                                                     bags["tag_ids"].tolist())}

    def shard_files(self, split: str) -> list[str]:
        files = sorted(glob.glob(self.shard_path(f"{split}-*-of-*.tfrecord")))
        if not files:
            raise NotPreparedError(f"no {split} shards in {self.tfrecords_dir}: run {PREPARE_COMMAND}")
        return files

    # ---- checking ----
    def repair_command(self, verify: bool = False) -> str:
        """The prepare command that rewrites damaged shards: the recorded input folder and flags."""
        manifest = self.manifest()
        recorded = [f"--{name}={value}" for name, value in sorted(manifest["flags"].items()) if value is not None]
        source = manifest.get("source") or {"melon_dir": manifest.get("melon_dir", "PATH/TO/melon")}
        given = [f"--{name}={source[name]}" for name in SOURCE_FLAGS if source.get(name)]
        words = [*PREPARE_COMMAND.split(), *given, f"--output_dir={self.path}", *recorded,
                 *(["--verify_data"] if verify else [])]
        return shlex.join(words)

    def verify(self, checksums: bool = False) -> int:
        """Checks every shard the manifest lists: present and of the recorded size; with `checksums`, also its
        sha256 (reads every byte). Returns the number of shards checked.

        Raises:
          NotPreparedError: no manifest.
          DamagedFolderError: naming the first damaged shard and the prepare command that rewrites it.
        """
        manifest = self.manifest()
        records = [record for split in splits.SPLITS for record in manifest["shards"][split]]
        for record in records:
            path = self.shard_path(record["name"])
            problem = None
            if not os.path.exists(path):
                problem = "is missing"
            elif os.path.getsize(path) != record["bytes"]:
                problem = f"is {os.path.getsize(path)} bytes, the manifest records {record['bytes']}"
            elif checksums and sha256_file(path) != record["sha256"]:
                problem = "does not match the sha256 the manifest records"
            if problem:
                raise DamagedFolderError(f"shard {path} {problem}; rewrite it with: "
                                         f"{self.repair_command(verify=problem.startswith('does'))}")
        return len(records)
