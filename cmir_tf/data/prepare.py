"""`prepare`: the Melon Playlist Dataset, or a catalogue of one's own music, -> a prepared folder of sharded
TFRecords (`cmir-prepare`, `cmir_tf.cli.prepare`, is its command).

Every stage leaves a finished file in `output_dir` (written under a temporary name, then renamed), and a rerun
reuses what is there, so a killed run resumes where it stopped and ends with the same manifest:

  cache/config.json   fingerprint of the inputs (Melon: its JSON files; a catalogue: its track table, playlists
                      and audio listing) and of the flags (`fingerprint.py`); a rerun with others is refused
                      naming each difference
  catalogue/          a catalogue source only: its Melon-format view, mels computed from the audio
                      (`cmir_tf.data.catalogue`, docs/catalogue.md); the stages below read it as they read Melon
  cache/songs.json    selected songs (genre codes), selection drop counts (`selection.py`)
  genre_vocab.json, genre_word2vec.npy   code -> id from 1, (V + 1, F_w) float32 with row 0 zeros
  genre_names.json    code -> name, for the vocabulary's codes that have one
  splits.json         {"train"|"validation"|"test": song ids}, 80/10/10 stratified on genres
  cache/cf_vectors.npy, cache/cf_song_ids.npy, cf_playlist_vectors.npy, cf_playlist_ids.npy   LightFM WARP
                      song and playlist vectors (301 = 300 factors + bias), `stages.song_vectors`
  cache/cf_model.pkl  the LightFM fit in progress, every few epochs: a killed fit resumes there
  tag_vocab.json, tag_word2vec.npy, song_tags.npz   the playlist tags (`playlist_tags.py`)
  tfrecords/<split>-<i>-of-<n>.tfrecord and cache/shards/<name>.json   the shards (`shard_stage.py`)
  partners.npz        intra-modal partner lists of the train and validation splits (`partners.py`)
  report.json         every skipped item by reason
  manifest.json       written last: counts, shapes, source, flags, fingerprints, shard sizes and checksums

`cmir_tf.data.prepared.PreparedFolder` owns these names. One prepare at a time writes a folder (an OS lock,
`cmir_tf.data.lock`). Inputs and flags are validated before anything is written (`prepare_config.validate`).

Determinism: with the default `cf_threads=1` two clean runs give byte-identical shards and manifests. More
LightFM threads (Hogwild) are faster but give other CF vectors each run; the manifest records their sha256.
"""

from __future__ import annotations

import dataclasses
import json
import os

from absl import logging

from cmir_tf.constants import CF_DIM, MAX_GENRES, MAX_TAGS, N_MELS
from cmir_tf.data import catalogue, fingerprint, melon, partners, splits, stages
from cmir_tf.data.atomic import write_errors_named, write_json
from cmir_tf.data.checksum import sha256_file
from cmir_tf.data.lock import exclusive_lock
from cmir_tf.data.prepare_config import PrepareConfig, PrepareUsageError, validate
from cmir_tf.data.prepared import SOURCE_FLAGS, PreparedFolder
from cmir_tf.data.shard_stage import InsufficientSpaceError, bytes_per_song, shard_jobs, write_shards

__all__ = ["InsufficientSpaceError", "PrepareConfig", "PrepareUsageError", "bytes_per_song", "prepare"]

FORMAT_VERSION = 3  # 2: songs in shuffled order within a split, `--playlists`, per-file input fingerprints;
# 3: playlist tags (records gain `tag_ids`, `has_tags`)


@dataclasses.dataclass(frozen=True)
class MelonFolder:
    """What the stages read: a Melon-format folder (Melon itself, or a catalogue's view) and its inputs."""

    path: str
    playlist_files: tuple[str, ...]
    meta: list
    genre_names: dict | None
    playlists: list[dict]
    catalogue_report: dict | None = None  # a catalogue's mess, by reason (`catalogue.CatalogueView.report`)

    @classmethod
    def read(cls, path: str, playlist_files: tuple[str, ...], catalogue_report: dict | None = None) -> MelonFolder:
        """The Melon-format folder `path` read and checked: song_meta.json, genre_gn_all.json (optional), and
        those of `playlist_files` present."""
        meta = melon.load_json(os.path.join(path, "song_meta.json"))
        names_path = os.path.join(path, "genre_gn_all.json")
        genre_names = melon.load_json(names_path) if os.path.exists(names_path) else None
        if genre_names is not None and not isinstance(genre_names, dict):
            raise melon.MelonInputError(f"{names_path}: expected an object of genre code -> name")
        files = tuple(f for f in playlist_files if os.path.exists(os.path.join(path, f)))
        return cls(path, files, meta, genre_names, melon.read_playlists(path, files), catalogue_report)




def prepare(config: PrepareConfig) -> dict:
    """Runs (or resumes) every stage and returns the manifest (also written to manifest.json).

    Raises (each a `cmir_tf.errors.CmirError`):
      PrepareUsageError, fingerprint.OtherRecipeError, DirectoryLockedError: usage errors (exit status 2).
      melon.MelonInputError, catalogue.CatalogueInputError: an unreadable input (exit status 1);
      InsufficientSpaceError, or `errors.PathError` (an OSError) naming the file the output could not be
      written to (read-only, full); nothing half-written stays.
    """
    validate(config)
    if config.is_catalogue:
        source = catalogue.read_catalogue(config.audio_dir, config.tracks, config.playlists_from)
        recipe = catalogue.fingerprint(source, config.fingerprinted())
    else:  # read before the lock creates output_dir: a failed read leaves nothing
        melon_inputs = MelonFolder.read(config.melon_dir, melon.PLAYLIST_CHOICES[config.playlists])
        recipe = fingerprint.fingerprint(config.melon_dir, melon_inputs.playlist_files, config.fingerprinted())
    recipe = json.loads(json.dumps(recipe))  # as it reads back from cache/config.json
    with write_errors_named(), exclusive_lock(config.output_dir, "prepare"):
        folder = PreparedFolder(config.output_dir)
        for stale in folder.scratch_files():
            os.remove(stale)  # temporary files of a killed run
        fingerprint.check(config.output_dir, recipe)
        fingerprint.write(config.output_dir, recipe)  # before the first output
        if config.is_catalogue:
            view = catalogue.write_view(source, config.output_dir, config.mel_cache_dir, config.workers)
            melon_inputs = MelonFolder.read(view.path, melon.PLAYLIST_CHOICES["train"], view.report)
        return _prepare_locked(config, melon_inputs, recipe)


def _prepare_locked(config: PrepareConfig, inputs: MelonFolder, recipe: dict) -> dict:
    folder = PreparedFolder(config.output_dir)
    chosen = stages.select_songs(config, inputs.path, inputs.meta, inputs.genre_names, inputs.playlists)
    entries = chosen["playlist_songs"]
    logging.info("songs: %d selected, dropped: %s; playlist entries: %d kept, skipped: %s", len(chosen["songs"]),
                 stages.counts_text(chosen["dropped"]), entries["kept"],
                 stages.counts_text({k: n for k, n in entries.items() if k != "kept"}))
    songs = {int(s): codes for s, codes in chosen["songs"].items()}
    vocab = stages.genre_vocabulary(config, inputs.path, inputs.playlists, songs)
    genre_ids = {s: [vocab[c] for c in codes if c in vocab] for s, codes in songs.items()}
    vocab_dropped = sum(not ids for ids in genre_ids.values())
    genre_ids = {s: ids for s, ids in genre_ids.items() if ids}
    if len(genre_ids) < 10:
        raise melon.MelonInputError(f"only {len(genre_ids)} usable songs in {inputs.path}: too few to split")
    split_ids = stages.split(config, songs, genre_ids, vocab)
    logging.info("genre vocabulary: %d codes; songs split %s (dropped, genres not in the vocabulary: %d)",
                 len(vocab), {k: len(v) for k, v in split_ids.items()}, vocab_dropped)

    cf_rows = stages.song_vectors(config, inputs.playlists, split_ids)
    tag_report, tag_ids = stages.playlist_tag_stage(config, inputs.playlists, set(genre_ids))
    logging.info("playlist tags: %d distinct, %d in the vocabulary (used by >= %d playlists); %d songs with tags; "
                 "odd tags dropped: %s", tag_report["distinct_tags"], tag_report["vocabulary"], config.min_tag_count,
                 len(tag_ids), stages.counts_text(tag_report["odd_tags"]))
    shard_stats = write_shards(config, shard_jobs(config, inputs.path, split_ids, genre_ids, cf_rows, tag_ids))
    partners.write_partner_lists(config.output_dir, inputs.playlists, inputs.meta, genre_ids)
    report = stages.report(chosen, vocab_dropped, shard_stats, tag_report)
    if inputs.catalogue_report is not None:
        report["catalogue"] = inputs.catalogue_report
    write_json(folder.report_path, report)
    manifest = _manifest(config, inputs, recipe, split_ids, shard_stats, cf_rows, tag_ids, len(vocab),
                         tag_report["vocabulary"])
    write_json(folder.manifest_path, manifest)
    logging.info("shards written; skipped mels: %s; short mels padded: %d (report.json)",
                 stages.counts_text(report["skipped_mels"]), report["short_padded"])
    return manifest


def _manifest(config: PrepareConfig, inputs: MelonFolder, recipe: dict, split_ids: dict, shard_stats: list[dict],
              cf_rows: dict, tag_ids: dict, genre_vocab_size: int, tag_vocab_size: int) -> dict:
    folder = PreparedFolder(config.output_dir)
    shard_lists = {split: [s for s in shard_stats if s["name"].startswith(split + "-")] for split in splits.SPLITS}
    source = {name: os.path.abspath(getattr(config, name)) for name in SOURCE_FLAGS if getattr(config, name)}
    return {
        "format_version": FORMAT_VERSION,
        **recipe,
        "source": source,
        "melon_dir": os.path.abspath(inputs.path),  # a catalogue's: its Melon-format view (evaluate's --melon_dir)
        "playlist_files": list(inputs.playlist_files),
        "split_fingerprints": {split: splits.fingerprint(split_ids[split]) for split in splits.SPLITS},
        "counts": {split: sum(s["count"] for s in stats) for split, stats in shard_lists.items()},
        "songs_in_splits": {split: len(ids) for split, ids in split_ids.items()},
        "with_cf": {split: sum(s in cf_rows for s in split_ids[split]) for split in splits.SPLITS},
        "with_tags": {split: sum(s in tag_ids for s in split_ids[split]) for split in splits.SPLITS},
        "shards": {
            split: [{k: s[k] for k in ("name", "count", "sha256", "bytes")} for s in stats]
            for split, stats in shard_lists.items()
        },
        "cf_sha256": {name: sha256_file(path) for name, path in (
            ("song_vectors", folder.cf_vectors_path), ("playlist_vectors", folder.playlist_vectors_path))},
        "mel": {"max_frames": config.frames, "n_mels": N_MELS, "dtype": "float16", "layout": "time-major"},
        "max_genres": MAX_GENRES,
        "cf_dim": CF_DIM,
        "genre_vocab_size": genre_vocab_size,
        "max_tags": MAX_TAGS,
        "tag_vocab_size": tag_vocab_size,
    }
