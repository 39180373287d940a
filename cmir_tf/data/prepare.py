"""`cmir-prepare` (`python -m cmir_tf prepare`): the Melon Playlist Dataset -> sharded TFRecords.

    cmir-prepare --melon_dir=MELON --output_dir=PREPARED [--playlists=train|all] [--workers=N]

Every stage leaves a finished file in `--output_dir` (written under a temporary name, then renamed), and a
rerun reuses what is there, so a killed run resumes where it stopped and ends with the same manifest:

  cache/config.json   fingerprint of the input JSON files and of the flags (`fingerprint.py`); written just
                      before the first output, a rerun with others is refused naming each difference
  cache/songs.json    selected songs (genre codes), selection drop counts (`selection.py`)
  genre_vocab.json, genre_word2vec.npy   code -> id from 1, (V + 1, F_w) float32 with row 0 zeros
  genre_names.json    code -> name from genre_gn_all.json, for the vocabulary's codes that have one
  splits.json         {"train"|"validation"|"test": song ids}, 80/10/10 stratified on genres
  cache/cf_vectors.npy, cache/cf_song_ids.npy   LightFM WARP vectors (301 = 300 factors + bias) of the
                      train + validation songs found in playlists, and their song ids (row order)
  cf_playlist_vectors.npy, cf_playlist_ids.npy   the same fit's playlist (user) vectors (301 = 300 factors
                      + bias) of the playlists holding such songs, and their playlist ids (row order)
  cache/cf_model.pkl  the LightFM fit in progress, every few epochs: a killed fit resumes there
  tfrecords/<split>-<i>-of-<n>.tfrecord and cache/shards/<name>.json (per-shard counts and checksum); the
                      songs of a split are written in a random order seeded by --seed, so that neither
                      a shard nor a shuffle buffer holds neighbouring ids (often one album or artist).
                      A rerun rewrites a shard whose size differs from its record (with --verify_data,
                      also one whose sha256 differs). Free disk space is checked against an estimate first.
  partners.npz        intra-modal partner lists of the train and validation splits, each within its split
                      (`partners.py`)
  tag_vocab.json, tag_word2vec.npy, song_tags.npz   the playlist tags of the chosen playlists
                      (`playlist_tags.py`): the tags of at least --min_tag_count playlists, their word2vec
                      (--word2vec_dim, like the genres'), every song's tf-idf bag of at most 10 tags
  report.json         every skipped item by reason
  manifest.json       written last: counts, shapes, flags, fingerprints, shard sizes and checksums, the
                      CF vectors' checksums

`cmir_tf.data.prepared.PreparedFolder` owns these names. One prepare at a time writes a folder (an OS lock,
`cmir_tf.data.lock`; a second one exits with status 2 naming the holder's pid).

Inputs and flags are validated before anything is written: bad flags exit with status 2, unreadable input
files with a one-line error naming the file (status 1), as do a read-only or full output folder and too
little free space (nothing half-written stays: every file is written under a temporary name, then renamed).
Songs in `splits.json` whose mel turns out bad while shards are written are counted in `report.json` and in
the stage's line, and are absent from the records; `manifest.json` counts the records actually written. Mel files are checked for existence in the selection, not hashed: the input
fingerprint covers the JSON files only.

Determinism: with the default `--cf_threads=1` two clean runs give byte-identical shards and manifests.
More LightFM threads (Hogwild) are faster but give other CF vectors, hence other shard checksums, each run;
the manifest records the CF vectors' sha256 (`cf_sha256`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import multiprocessing
import os
import shutil
from collections import Counter

import numpy as np
from absl import app, flags, logging
from tqdm import tqdm

from cmir_tf import errors
from cmir_tf.cli import runner
from cmir_tf.constants import CF_DIM, CHUNK_FRAMES, MAX_GENRES, MAX_TAGS, N_MELS
from cmir_tf.data import (cf_lightfm, fingerprint, genre_word2vec, melon, partners, playlist_tags, selection, shards,
                          splits)
from cmir_tf.data.atomic import describe_write_error, write_json, write_npy, write_npz
from cmir_tf.data.checksum import sha256_file
from cmir_tf.data.lock import DirectoryLockedError, exclusive_lock
from cmir_tf.data.prepared import PreparedFolder, shard_name

FORMAT_VERSION = 3  # 2: songs in shuffled order within a split, `--playlists`, per-file input fingerprints;
# 3: playlist tags (records gain `tag_ids`, `has_tags`)
REPORT_EXAMPLES = 20  # song ids listed per skip reason in report.json
RECORD_OVERHEAD_BYTES = 230  # per record beyond the mel and CF floats: keys, genre and tag ids, id, framing
# (measured 211 with 10 genre ids, 10 two-byte tag ids and a 6-digit song id; 145 before tags)
MIN_TAG_COUNT = 5  # default --min_tag_count (docs/playlist_tags.md says why)


class PrepareUsageError(ValueError):
    """Flags that cannot work together or a dataset folder that is not there (exit status 2)."""


class InsufficientSpaceError(OSError):
    """The output's file system has less free space than the shards still to write need (exit status 1)."""


@dataclasses.dataclass(frozen=True)
class PrepareConfig:
    """The flags of `prepare`; see `define_flags` for their meaning."""

    melon_dir: str
    output_dir: str
    genre_level: str = "both"
    frames: int = 1300
    short: str = "pad"
    playlists: str = "train"
    word2vec_dim: int = 200
    min_tag_count: int = MIN_TAG_COUNT
    genre_matrix: str | None = None
    genre_code_map: str | None = None
    cf_epochs: int = 50
    cf_learning_rate: float = 0.05
    cf_max_sampled: int = 40
    cf_threads: int = 1
    seed: int = 0
    shard_size_mb: float = 150.0
    songs_per_shard: int = 0
    workers: int = 1
    verify_data: bool = False

    def fingerprinted(self) -> dict:
        """The settings that determine the output (paths, worker and thread counts, checks excluded)."""
        skip = {"melon_dir", "output_dir", "workers", "cf_threads", "verify_data"}
        return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}


def validate(config: PrepareConfig) -> None:
    """Raises `PrepareUsageError` naming every flag or folder that cannot work, before anything is written."""
    problems = []
    if not os.path.isfile(os.path.join(config.melon_dir, "song_meta.json")):
        problems.append(f"--melon_dir={config.melon_dir} has no song_meta.json")
    if os.path.exists(config.output_dir) and not os.path.isdir(config.output_dir):
        problems.append(f"--output_dir={config.output_dir} is a file")
    if bool(config.genre_matrix) != bool(config.genre_code_map):
        problems.append("--genre_matrix and --genre_code_map go together")
    for flag in ("genre_matrix", "genre_code_map"):
        path = getattr(config, flag)
        if path and not os.path.isfile(path):
            problems.append(f"--{flag}={path} does not exist")
    choices = {"genre_level": melon.GENRE_LEVELS, "short": ("pad", "drop"), "playlists": tuple(melon.PLAYLIST_CHOICES)}
    problems += [f"--{flag} must be one of {', '.join(options)}, got {getattr(config, flag)!r}"
                 for flag, options in choices.items() if getattr(config, flag) not in options]
    minimums = {"frames": CHUNK_FRAMES, "word2vec_dim": 1, "min_tag_count": 1, "cf_epochs": 1, "cf_max_sampled": 1, "cf_threads": 1,
                "workers": 1, "songs_per_shard": 0}
    problems += [f"--{flag} must be >= {low}, got {getattr(config, flag)}"
                 for flag, low in minimums.items() if getattr(config, flag) < low]
    problems += [f"--{flag} must be > 0, got {getattr(config, flag)}"
                 for flag in ("cf_learning_rate", "shard_size_mb") if not getattr(config, flag) > 0]
    if problems:
        raise PrepareUsageError("; ".join(problems))


def _read_inputs(config: PrepareConfig) -> tuple[list, dict | None, list[dict]]:
    """(song_meta.json, genre_gn_all.json or None when absent, the chosen playlists), each checked."""
    meta = melon.load_json(os.path.join(config.melon_dir, "song_meta.json"))
    names_path = os.path.join(config.melon_dir, "genre_gn_all.json")
    genre_names = melon.load_json(names_path) if os.path.exists(names_path) else None
    if genre_names is not None and not isinstance(genre_names, dict):
        raise melon.MelonInputError(f"{names_path}: expected an object of genre code -> name")
    return meta, genre_names, melon.load_playlists(config.melon_dir, config.playlists)


def _select_songs(config: PrepareConfig, meta: list, genre_names: dict | None, playlists: list[dict],
                  recipe: dict) -> dict:
    """Songs with genres and a mel file, and the counts of those dropped (cached in cache/songs.json)."""
    path = PreparedFolder(config.output_dir).songs_path
    if os.path.exists(path):
        return melon.load_json(path)
    chosen = selection.select_songs(meta, config.melon_dir, config.genre_level, genre_names)
    known = {song["id"] for song in meta if isinstance(song, dict) and selection.is_song_id(song.get("id"))}
    in_playlists = Counter({"absent_from_metadata": 0, "dropped": 0, "kept": 0})
    in_playlists.update(
        "absent_from_metadata" if s not in known else "dropped" if str(s) not in chosen["songs"] else "kept"
        for playlist in playlists
        for s in playlist["songs"]
        if selection.is_song_id(s)
    )
    chosen["playlist_songs"] = dict(in_playlists)
    fingerprint.write(config.output_dir, recipe)  # just before the first output
    write_json(path, chosen)
    return chosen


def _counts(counts: dict[str, int]) -> str:
    """"no_genres 27, missing_npy 3" for the non-zero counts, "none" if all are zero."""
    return ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items()) if n) or "none"


def _genre_vocabulary(config: PrepareConfig, playlists: list[dict], songs: dict[int, list[str]]) -> dict:
    """genre_vocab.json + genre_word2vec.npy, trained or adopted from --genre_matrix (cached)."""
    folder = PreparedFolder(config.output_dir)
    vocab_path, matrix_path = folder.genre_vocab_path, folder.genre_word2vec_path
    if os.path.exists(vocab_path) and os.path.exists(matrix_path):
        return folder.genre_vocab()
    if config.genre_matrix:
        vocab, matrix = genre_word2vec.from_reference(
            melon.load_json(config.genre_code_map), np.load(config.genre_matrix)
        )
    else:
        sentences = list(melon.playlist_sentences(playlists, songs))
        vocab, matrix = genre_word2vec.train_word2vec(sentences, config.word2vec_dim, config.seed)
    names_path = os.path.join(config.melon_dir, "genre_gn_all.json")
    names = melon.load_json(names_path) if os.path.exists(names_path) else {}
    write_json(folder.genre_names_path, {c: names[c] for c in vocab if c in names})
    write_npy(matrix_path, matrix)
    write_json(vocab_path, vocab)
    return vocab


def _playlist_tags(config: PrepareConfig, playlists: list[dict], songs: set[int]) -> tuple[dict, dict[int, list[int]]]:
    """tag_vocab.json, tag_word2vec.npy and song_tags.npz (cached); returns the tag report and the bags."""
    folder = PreparedFolder(config.output_dir)
    odd: Counter = Counter()
    tag_lists = [playlist_tags.tags_of(p, odd) for p in playlists]
    vocab = playlist_tags.tag_vocabulary(tag_lists, config.min_tag_count)
    report = {"odd_tags": {reason: odd[reason] for reason in (*playlist_tags.ODD_TAG_REASONS, "tags_not_a_list")},
              "distinct_tags": len({t for tags in tag_lists for t in tags}), "vocabulary": len(vocab),
              "playlists_with_tags": sum(bool(tags) for tags in tag_lists)}
    if not os.path.exists(folder.song_tags_path):
        if vocab:
            write_npy(folder.tag_word2vec_path,
                      genre_word2vec.train_word2vec(tag_lists, config.word2vec_dim, config.seed, vocab=vocab)[1])
        write_json(folder.tag_vocab_path, vocab)
        bags = playlist_tags.song_tag_bags([p["songs"] for p in playlists], tag_lists, vocab, songs)
        ids = sorted(bags)
        padded = np.zeros((len(ids), MAX_TAGS), np.int32)
        for row, song in enumerate(ids):
            padded[row, : len(bags[song])] = bags[song]
        write_npz(folder.song_tags_path, song_ids=np.asarray(ids, np.int64), tag_ids=padded)
    return report, folder.song_tags()


def _song_vectors(config: PrepareConfig, playlists: list[dict], split_ids: dict) -> dict[int, int]:
    """Fits (or reuses, or resumes) the CF vectors; returns song id -> row of cache/cf_vectors.npy."""
    folder = PreparedFolder(config.output_dir)
    ids_path = folder.cf_song_ids_path  # written last: the stage is done
    if not os.path.exists(ids_path):
        allowed = {*split_ids["train"], *split_ids["validation"]}
        playlists = [p for p in playlists if not allowed.isdisjoint(p["songs"])]  # the matrix's rows
        matrix, song_ids = cf_lightfm.interaction_matrix([p["songs"] for p in playlists], allowed)
        logging.info("LightFM WARP on %d playlists x %d songs (%d entries)", *matrix.shape, matrix.nnz)
        vectors, playlist_vectors = cf_lightfm.fit_vectors(
            matrix,
            epochs=config.cf_epochs,
            learning_rate=config.cf_learning_rate,
            max_sampled=config.cf_max_sampled,
            threads=config.cf_threads,
            seed=config.seed,
            checkpoint_path=folder.cf_model_path,
        )
        write_npy(folder.cf_vectors_path, vectors)
        write_npy(folder.playlist_vectors_path, playlist_vectors)
        write_npy(folder.playlist_ids_path, np.asarray([p["id"] for p in playlists], np.int64))
        write_npy(ids_path, song_ids)
    return {song: row for row, song in enumerate(np.load(ids_path).tolist())}


def _shard_jobs(
    config: PrepareConfig, split_ids: dict, genre_ids: dict[int, list[int]], cf_rows: dict[int, int],
    tag_ids: dict[int, list[int]],
) -> list[shards.ShardJob]:
    """One job per shard, about --shard_size_mb each (or --songs_per_shard), the songs of each split in an
    order drawn from (--seed, split), as TFDS does: ids that are neighbours (one album) end up far apart."""
    folder = PreparedFolder(config.output_dir)
    layout_bytes = config.frames * N_MELS * 2 + CF_DIM * 4 + 100  # format 2's own estimate: fixes shard layouts
    per_shard = config.songs_per_shard or max(1, int(config.shard_size_mb * 1e6 // layout_bytes))
    jobs = []
    for split_index, split in enumerate(splits.SPLITS):
        order = np.random.default_rng([config.seed, split_index]).permutation(len(split_ids[split]))
        ids = [split_ids[split][i] for i in order]
        count = math.ceil(len(ids) / per_shard)
        for index in range(count):
            chunk = ids[index * per_shard : (index + 1) * per_shard]
            jobs.append(
                shards.ShardJob(
                    path=folder.shard_path(shard_name(split, index, count)),
                    song_ids=chunk,
                    genre_ids=[genre_ids[s] for s in chunk],
                    cf_rows=[cf_rows.get(s, -1) for s in chunk],
                    tag_ids=[tag_ids.get(s, []) for s in chunk],
                    cf_path=folder.cf_vectors_path,
                    melon_dir=config.melon_dir,
                    frames=config.frames,
                    short=config.short,
                )
            )
    return jobs


def bytes_per_song(frames: int) -> int:
    """Upper bound of one record's bytes: a float16 (frames, 48) mel, 301 float32 CF values, the rest.

    Exact for songs of at least `frames` frames (Melon's 1,876-frame mels at the default 1,300); shorter
    songs take less.
    """
    return frames * N_MELS * 2 + CF_DIM * 4 + RECORD_OVERHEAD_BYTES


def _shard_is_finished(job: shards.ShardJob, stats_path: str, checksums: bool) -> bool:
    """Whether `job`'s shard exists with the size (and, with `checksums`, the sha256) of its record."""
    if not (os.path.exists(stats_path) and os.path.exists(job.path)):
        return False
    stats = melon.load_json(stats_path)
    if os.path.getsize(job.path) != stats["bytes"]:
        return False
    return not checksums or sha256_file(job.path) == stats["sha256"]


def _check_free_space(config: PrepareConfig, pending: list[shards.ShardJob]) -> tuple[int, int]:
    """(estimated bytes of the shards to write, free bytes); raises `InsufficientSpaceError` when short."""
    needed = sum(len(job.song_ids) for job in pending) * bytes_per_song(config.frames)
    free = shutil.disk_usage(config.output_dir).free
    if needed > free:
        raise InsufficientSpaceError(
            f"{config.output_dir} has {_size(free)} free but the shards to write need about {_size(needed)} "
            f"({bytes_per_song(config.frames)} bytes per song at --frames={config.frames}): free space or "
            "lower --frames (docs/data.md)"
        )
    return needed, free


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000:
            return f"{n:.3g} {unit}"
        n /= 1000
    return f"{n:.3g} TB"


def _write_shards(config: PrepareConfig, jobs: list[shards.ShardJob]) -> list[dict]:
    """Writes the shards not finished yet (`--workers` processes) and returns all shards' statistics.

    A shard whose file is missing, or differs in size (with --verify_data: in sha256) from its record, is
    (re)written.
    """
    folder = PreparedFolder(config.output_dir)

    def stats_path(job):
        return folder.shard_stats_path(os.path.basename(job.path))

    pending = [j for j in jobs if not _shard_is_finished(j, stats_path(j), config.verify_data)]
    damaged = sum(os.path.exists(j.path) for j in pending)
    needed, free = _check_free_space(config, pending)
    logging.info("%d shards, %d to write (%d damaged), about %s of %s free", len(jobs), len(pending), damaged,
                 _size(needed), _size(free))
    bar = tqdm(total=len(pending), desc="write shards", unit="shard")
    by_name = {os.path.basename(j.path): j for j in pending}
    if config.workers > 1 and len(pending) > 1:
        with multiprocessing.get_context("spawn").Pool(config.workers) as pool:
            for stats in pool.imap_unordered(shards.write_shard, pending):
                write_json(stats_path(by_name[stats["name"]]), stats)
                bar.update()
    else:
        for job in pending:
            write_json(stats_path(job), shards.write_shard(job))
            bar.update()
    bar.close()
    return [melon.load_json(stats_path(j)) for j in jobs]


def _report(chosen: dict, vocab_dropped: int, shard_stats: list[dict], tags: dict) -> dict:
    skipped: dict[str, list[int]] = {}
    for stats in shard_stats:
        for reason, ids in stats["skipped"].items():
            skipped.setdefault(reason, []).extend(ids)
    padded = [s for stats in shard_stats for s in stats["short_padded"]]
    return {
        "dropped_before_split": {**chosen["dropped"], "genres_not_in_vocabulary": vocab_dropped},
        "dropped_examples": chosen["examples"],
        "genre_codes": chosen["genre_codes"],
        "skipped_mels": {reason: len(ids) for reason, ids in sorted(skipped.items())},
        "skipped_mel_examples": {reason: sorted(ids)[:REPORT_EXAMPLES] for reason, ids in skipped.items()},
        "short_padded": len(padded),
        "playlist_songs": chosen["playlist_songs"],
        "playlist_tags": tags,
    }


def prepare(config: PrepareConfig) -> dict:
    """Runs (or resumes) every stage and returns the manifest (also written to manifest.json).

    Raises:
      PrepareUsageError, fingerprint.OtherRecipeError, DirectoryLockedError: usage errors (exit status 2).
      melon.MelonInputError: an unreadable input (exit status 1).
      OSError: the output cannot be written (read-only, full, `InsufficientSpaceError`); nothing half-written
        stays.
    """
    validate(config)
    inputs = _read_inputs(config)  # before the lock creates --output_dir: a failed read leaves nothing
    with exclusive_lock(config.output_dir, "prepare"):
        return _prepare_locked(config, *inputs)


def _prepare_locked(config: PrepareConfig, meta: list, genre_names: dict | None, playlists: list[dict]) -> dict:
    folder = PreparedFolder(config.output_dir)
    for stale in folder.scratch_files():
        os.remove(stale)  # temporary files of a killed run
    chosen_files = melon.PLAYLIST_CHOICES[config.playlists]
    files = tuple(f for f in chosen_files if os.path.exists(os.path.join(config.melon_dir, f)))
    recipe = json.loads(json.dumps(fingerprint.fingerprint(config.melon_dir, files, config.fingerprinted())))
    fingerprint.check(config.output_dir, recipe)
    chosen = _select_songs(config, meta, genre_names, playlists, recipe)
    entries = chosen["playlist_songs"]
    logging.info("songs: %d selected, dropped: %s; playlist entries: %d kept, skipped: %s", len(chosen["songs"]),
                 _counts(chosen["dropped"]), entries["kept"],
                 _counts({k: n for k, n in entries.items() if k != "kept"}))
    songs = {int(s): codes for s, codes in chosen["songs"].items()}
    vocab = _genre_vocabulary(config, playlists, songs)
    genre_ids = {s: [vocab[c] for c in codes if c in vocab] for s, codes in songs.items()}
    vocab_dropped = sum(not ids for ids in genre_ids.values())
    genre_ids = {s: ids for s, ids in genre_ids.items() if ids}
    if len(genre_ids) < 10:
        raise melon.MelonInputError(f"only {len(genre_ids)} usable songs in {config.melon_dir}: too few to split")

    if not os.path.exists(folder.splits_path):
        ids = sorted(genre_ids)
        codes = [[c for c in songs[s] if c in vocab] for s in ids]
        write_json(folder.splits_path, splits.stratified_split(ids, codes, config.seed))
    split_ids = melon.load_json(folder.splits_path)
    logging.info("genre vocabulary: %d codes; songs split %s (dropped, genres not in the vocabulary: %d)",
                 len(vocab), {k: len(v) for k, v in split_ids.items()}, vocab_dropped)

    cf_rows = _song_vectors(config, playlists, split_ids)
    tag_report, tag_ids = _playlist_tags(config, playlists, set(genre_ids))
    logging.info("playlist tags: %d distinct, %d in the vocabulary (used by >= %d playlists); %d songs with tags; "
                 "odd tags dropped: %s", tag_report["distinct_tags"], tag_report["vocabulary"], config.min_tag_count,
                 len(tag_ids), _counts(tag_report["odd_tags"]))
    shard_stats = _write_shards(config, _shard_jobs(config, split_ids, genre_ids, cf_rows, tag_ids))
    partners.write_partner_lists(config.output_dir, playlists, meta, genre_ids)
    report = _report(chosen, vocab_dropped, shard_stats, tag_report)
    write_json(folder.report_path, report)

    shard_lists = {split: [s for s in shard_stats if s["name"].startswith(split + "-")] for split in splits.SPLITS}
    manifest = {
        "format_version": FORMAT_VERSION,
        **recipe,
        "melon_dir": os.path.abspath(config.melon_dir),
        "playlist_files": list(files),
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
        "genre_vocab_size": len(vocab),
        "max_tags": MAX_TAGS,
        "tag_vocab_size": tag_report["vocabulary"],
    }
    write_json(folder.manifest_path, manifest)
    logging.info("shards written; skipped mels: %s; short mels padded: %d (report.json)",
                 _counts(report["skipped_mels"]), report["short_padded"])
    return manifest


def define_flags() -> None:
    d = PrepareConfig
    flags.DEFINE_string("melon_dir", None, "Melon Playlist Dataset directory (song_meta.json, arena_mel/, ...).")
    flags.DEFINE_string("output_dir", None, "Prepared data directory (created; a rerun resumes it).")
    flags.DEFINE_enum("genre_level", d.genre_level, melon.GENRE_LEVELS, "Genre codes per song: GNxx00, GNxxyy or both.")
    flags.DEFINE_integer("frames", d.frames, "Mel frames stored per song (the first ones).")
    flags.DEFINE_enum("short", d.short, ["pad", "drop"], "Mels shorter than 256 frames: pad to 256 or drop.")
    flags.DEFINE_enum("playlists", d.playlists, list(melon.PLAYLIST_CHOICES),
                      "Playlists for LightFM and genre word2vec: train.json alone (the paper's) or all files.")
    flags.DEFINE_integer("word2vec_dim", d.word2vec_dim, "Genre and playlist-tag word2vec dimension F_w.")
    flags.DEFINE_integer("min_tag_count", d.min_tag_count, "Playlist tags used by fewer playlists are left out of the "
                         "tag vocabulary (docs/playlist_tags.md).")
    flags.DEFINE_string("genre_matrix", None, "Use this (V + 1, F_w) .npy instead of training word2vec.")
    flags.DEFINE_string("genre_code_map", None, "JSON code -> row index - 1 for --genre_matrix.")
    flags.DEFINE_integer("cf_epochs", d.cf_epochs, "LightFM epochs.")
    flags.DEFINE_float("cf_learning_rate", d.cf_learning_rate, "LightFM learning rate.")
    flags.DEFINE_integer("cf_max_sampled", d.cf_max_sampled, "LightFM WARP max_sampled.")
    flags.DEFINE_integer("cf_threads", d.cf_threads, "LightFM threads. 1: reproducible, and a killed fit resumes "
                         "to bitwise the same vectors; measured at full Melon scale on a 2-core AMD EPYC (Zen 4): "
                         "158 s per epoch (2.2 h for 50). 2: 60-76 s per epoch there, but Hogwild updates make the "
                         "CF vectors, hence the shards, differ every run (the manifest's cf_sha256 tells them "
                         "apart).")
    flags.DEFINE_integer("seed", d.seed, "Seed of the split, word2vec and LightFM.")
    flags.DEFINE_float("shard_size_mb", d.shard_size_mb, "Target shard size in MB.")
    flags.DEFINE_integer("songs_per_shard", d.songs_per_shard, "Songs per shard; overrides --shard_size_mb if > 0.")
    flags.DEFINE_integer("workers", d.workers, "Parallel shard-writing processes.")
    flags.DEFINE_bool("verify_data", d.verify_data, "On a rerun, also check each finished shard's sha256 "
                      "(reads every byte) and rewrite those that differ; sizes are always checked.")
    flags.mark_flags_as_required(["melon_dir", "output_dir"])


def main(argv: list[str]) -> None:
    runner.no_arguments(argv)
    names = [f.name for f in dataclasses.fields(PrepareConfig)]
    try:
        manifest = prepare(PrepareConfig(**{name: flags.FLAGS[name].value for name in names}))
    except (PrepareUsageError, fingerprint.OtherRecipeError) as e:
        raise app.UsageError(str(e), exitcode=2) from e
    except DirectoryLockedError as e:
        raise app.UsageError(str(e)) from e
    except melon.MelonInputError as e:
        raise errors.InputError(str(e)) from e
    except OSError as e:
        raise errors.InputError(describe_write_error(e)) from e
    logging.info("records per split: %s", manifest["counts"])


def run() -> None:
    """Console entry (`cmir-prepare`, through `cmir_tf.cli.start`)."""
    define_flags()
    runner.run_main(main, "cmir-prepare")


if __name__ == "__main__":
    run()
