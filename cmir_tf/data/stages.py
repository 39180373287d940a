"""Prepare's stages on a Melon-format folder (Melon itself, or a catalogue's view of it): songs chosen, the
genre vocabulary and its word2vec, the split, the LightFM vectors and the playlist tags. Each stage leaves a
finished file in the prepared folder and a rerun reuses it."""

from __future__ import annotations

import os
from collections import Counter

import numpy as np
from absl import logging

from cmir_tf.constants import CF_DIM, MAX_TAGS
from cmir_tf.data import cf_lightfm, genre_word2vec, melon, playlist_tags, selection, splits
from cmir_tf.data.atomic import write_json, write_npy, write_npz
from cmir_tf.data.prepare_config import PrepareConfig
from cmir_tf.data.prepared import PreparedFolder, read_json

REPORT_EXAMPLES = 20  # song ids listed per skip reason in report.json


def counts_text(counts: dict[str, int]) -> str:
    """"no_genres 27, missing_npy 3" for the non-zero counts, "none" if all are zero."""
    return ", ".join(f"{reason} {n}" for reason, n in sorted(counts.items()) if n) or "none"


def select_songs(config: PrepareConfig, melon_dir: str, meta: list, genre_names: dict | None,
                 playlists: list[dict]) -> dict:
    """Songs with genres and a mel file, and the counts of those dropped (cached in cache/songs.json)."""
    path = PreparedFolder(config.output_dir).songs_path
    if os.path.exists(path):
        return read_json(path)
    chosen = selection.select_songs(meta, melon_dir, config.genre_level, genre_names)
    known = {song["id"] for song in meta if isinstance(song, dict) and selection.is_song_id(song.get("id"))}
    in_playlists = Counter({"absent_from_metadata": 0, "dropped": 0, "kept": 0})
    in_playlists.update(
        "absent_from_metadata" if s not in known else "dropped" if str(s) not in chosen["songs"] else "kept"
        for playlist in playlists
        for s in playlist["songs"]
        if selection.is_song_id(s)
    )
    chosen["playlist_songs"] = dict(in_playlists)
    write_json(path, chosen)
    return chosen


def genre_vocabulary(config: PrepareConfig, melon_dir: str, playlists: list[dict],
                     songs: dict[int, list[str]]) -> dict:
    """genre_vocab.json + genre_word2vec.npy, trained or adopted from --genre_matrix (cached).

    The word2vec's sentences are the genres of each playlist's songs; without playlists (a catalogue with none),
    each song's own genre list.
    """
    folder = PreparedFolder(config.output_dir)
    vocab_path, matrix_path = folder.genre_vocab_path, folder.genre_word2vec_path
    if os.path.exists(vocab_path) and os.path.exists(matrix_path):
        return folder.genre_vocab()
    if config.genre_matrix:
        vocab, matrix = genre_word2vec.from_reference(
            melon.load_json(config.genre_code_map), np.load(config.genre_matrix)
        )
    else:
        sentences = list(melon.playlist_sentences(playlists, songs)) or [songs[s] for s in sorted(songs)]
        vocab, matrix = genre_word2vec.train_word2vec(sentences, config.word2vec_dim, config.seed)
    names_path = os.path.join(melon_dir, "genre_gn_all.json")
    names = melon.load_json(names_path) if os.path.exists(names_path) else {}
    write_json(folder.genre_names_path, {c: names[c] for c in vocab if c in names})
    write_npy(matrix_path, matrix)
    write_json(vocab_path, vocab)
    return vocab


def split(config: PrepareConfig, songs: dict[int, list[str]], genre_ids: dict[int, list[int]],
          vocab: dict) -> dict[str, list[int]]:
    """splits.json: the songs with a genre of the vocabulary, 80/10/10 stratified on genres (cached)."""
    folder = PreparedFolder(config.output_dir)
    if not os.path.exists(folder.splits_path):
        ids = sorted(genre_ids)
        codes = [[c for c in songs[s] if c in vocab] for s in ids]
        write_json(folder.splits_path, splits.stratified_split(ids, codes, config.seed))
    return read_json(folder.splits_path)


def playlist_tag_stage(config: PrepareConfig, playlists: list[dict],
                       songs: set[int]) -> tuple[dict, dict[int, list[int]]]:
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


def song_vectors(config: PrepareConfig, playlists: list[dict], split_ids: dict) -> dict[int, int]:
    """Fits (or reuses, or resumes) the CF vectors; returns song id -> row of cache/cf_vectors.npy.

    Without a playlist holding a train or validation song (a catalogue without playlists) no song gets a
    vector: the files are written empty, and every record has `has_cf` 0.
    """
    folder = PreparedFolder(config.output_dir)
    ids_path = folder.cf_song_ids_path  # written last: the stage is done
    if not os.path.exists(ids_path):
        allowed = {*split_ids["train"], *split_ids["validation"]}
        playlists = [p for p in playlists if not allowed.isdisjoint(p["songs"])]  # the matrix's rows
        matrix, song_ids = cf_lightfm.interaction_matrix([p["songs"] for p in playlists], allowed)
        if matrix.nnz:
            logging.info("LightFM WARP on %d playlists x %d songs (%d entries)", *matrix.shape, matrix.nnz)
            vectors, playlist_vectors = cf_lightfm.fit_vectors(
                matrix, epochs=config.cf_epochs, learning_rate=config.cf_learning_rate,
                max_sampled=config.cf_max_sampled, threads=config.cf_threads, seed=config.seed,
                checkpoint_path=folder.cf_model_path)
        else:
            logging.info("LightFM: no playlist holds a train or validation song; no song gets a CF vector")
            vectors = playlist_vectors = np.zeros((0, CF_DIM), np.float32)
        write_npy(folder.cf_vectors_path, vectors)
        write_npy(folder.playlist_vectors_path, playlist_vectors)
        write_npy(folder.playlist_ids_path, np.asarray([p["id"] for p in playlists], np.int64))
        write_npy(ids_path, song_ids)
    return {song: row for row, song in enumerate(np.load(ids_path).tolist())}


def report(chosen: dict, vocab_dropped: int, shard_stats: list[dict], tags: dict) -> dict:
    """The Melon stages' part of the report: songs dropped before the split, mels skipped while writing, tags."""
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
