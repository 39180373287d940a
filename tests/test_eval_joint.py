"""Zero-shot Melon tagging, zero-shot GTZAN and cold-start continuation, on oracle stand-ins of a model.

The stand-in embedder gives every spectrogram or file its own random 256-d vector; the oracle joint spaces
know which song each vector is and score it with the truth. A correct protocol must then reach the maximum
score, which fails if songs, genre codes, classes or rankings are misaligned anywhere.
"""

import glob
import hashlib
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from cmir_tf.audio import chunk_mel, load_audio, select_segment
from cmir_tf.audio.chunker import chunks_of_blocks
from cmir_tf.data import melon
from cmir_tf.evaluation import gtzan, results
from cmir_tf.evaluation.cold_start import evaluate_cold_start, load_playlist_vectors
from cmir_tf.evaluation.playlist import load_test_songs, mel_path
from cmir_tf.evaluation.zero_shot import (evaluate_gtzan_zero_shot, evaluate_melon_zero_shot, load_gtzan_map,
                                          zero_shot_classes)
from cmir_tf.export.genre_vocabulary import GenreVocabulary
from cmir_tf.joint import MissingSignatureError, unit_rows


class HashEmbedder:
    """A random 256-d vector per distinct chunk; a track's vector (the mean over its chunks) is remembered by
    `track_vector`, so the oracles can look up which track an audio vector embeds."""

    model_key, output, dim = "hash", "embedding", 256

    def __init__(self):
        self.owner: dict[bytes, str] = {}  # track vector bytes -> what it embeds

    def embed_chunks(self, chunks: np.ndarray) -> np.ndarray:
        seeds = [int.from_bytes(hashlib.sha256(c.tobytes()).digest()[:8], "little") for c in chunks]
        return np.stack([np.random.default_rng(s).standard_normal(self.dim).astype(np.float32) for s in seeds])

    def track_vector(self, chunks: tf.Tensor, owner: str) -> np.ndarray:
        """(1, 256) mean of the chunks' vectors, as the evaluation computes it, remembered as `owner`'s."""
        vector = self.embed_chunks(chunks.numpy()).mean(axis=0, keepdims=True)
        self.owner[vector.tobytes()] = owner
        return vector

    def mel_track(self, melon_dir: str, song: int) -> np.ndarray:
        return self.track_vector(chunk_mel(np.load(mel_path(melon_dir, song)).T.astype(np.float32)), f"song-{song}")

    def audio_file(self, path: str) -> np.ndarray:
        waveform = select_segment(load_audio(path), gtzan.SEGMENT).astype(np.float32)
        chunks = np.concatenate(list(chunks_of_blocks(iter([waveform]))))  # as the evaluation's threads cut them
        return self.track_vector(tf.constant(chunks), os.path.relpath(path))


class OracleSpace:
    """A joint space whose genre scores are the truth of whichever item an audio vector embeds."""

    variant = "oracle"

    def __init__(self, embedder: HashEmbedder, codes: tuple[str, ...], truth: dict[str, set[str]]):
        self.embedder, self.truth = embedder, truth
        self.vocabulary = GenreVocabulary(codes, ("",) * len(codes))
        self.signatures = {"embed_genres", "genre_vocabulary"}

    def require(self, signature: str, purpose: str) -> None:
        if signature not in self.signatures:
            raise MissingSignatureError(f"{purpose} needs {signature}")

    def genre_scores(self, audio: np.ndarray) -> np.ndarray:
        owners = [self.embedder.owner[row[None].tobytes()] for row in audio.astype(np.float32)]
        return np.array([[float(c in self.truth[o]) for c in self.vocabulary.codes] for o in owners])


def test_melon_zero_shot_scores_the_truth_perfectly(demo_corpus, prepared_demo):
    melon_dir = os.path.join(demo_corpus, "melon")
    embedder = HashEmbedder()
    with open(os.path.join(prepared_demo, "genre_vocab.json")) as f:
        codes = tuple(json.load(f))
    meta = {s["id"]: melon.song_genres(s, "both") for s in melon.load_json(os.path.join(melon_dir, "song_meta.json"))}
    test_songs = load_test_songs(prepared_demo)
    truth = {f"song-{s}": set(meta[s]) for s in test_songs.tolist() if embedder.mel_track(melon_dir, s) is not None}
    result = evaluate_melon_zero_shot(OracleSpace(embedder, codes, truth), embedder, melon_dir, prepared_demo)
    assert result["roc_auc"] == 1.0 and result["pr_auc"] == 1.0
    assert result["n_songs"] == len(test_songs) and result["n_tags_scored"] >= 5
    assert 0.2 < result["random_baseline"]["roc_auc"] < 0.8


def test_gtzan_classes_merge_shared_codes_and_leave_out_unknown_ones():
    mapping = load_gtzan_map()
    assert set(mapping) == set(gtzan.GENRES)
    classes = zero_shot_classes(mapping, ("GN0200", "GN0300", "GN0600", "GN1000", "GN1700"))
    assert list(classes.values()) == [["disco"], ["hiphop"], ["jazz"], ["metal", "rock"]]


def test_gtzan_zero_shot_accuracy_of_the_truth_is_one(eval_corpus):
    mapping = load_gtzan_map()
    codes = tuple(sorted({c for genre_codes in mapping.values() for c in genre_codes}))
    embedder = HashEmbedder()
    root = gtzan.audio_root(str(eval_corpus / "demo" / "gtzan"))
    splits_dir = str(eval_corpus / "gtzan_lists")
    truth = {}
    for p in gtzan.load_split("test", splits_dir):
        path = next(f for f in glob.glob(os.path.join(root, os.path.splitext(p)[0] + ".*")))
        embedder.audio_file(path)
        truth[os.path.relpath(path)] = set(mapping[p.split("/")[0]])
    result = evaluate_gtzan_zero_shot(OracleSpace(embedder, codes, truth), embedder,
                                      str(eval_corpus / "demo" / "gtzan"), splits_dir=splits_dir)
    assert result["accuracy"] == 1.0 and result["chance"] == pytest.approx(1 / 9)
    assert "metal/rock" in result["classes"] and result["n_tracks"] == 30 and result["left_out"] == []
    narrow = OracleSpace(embedder, ("GN0200",), truth)  # one class only: nothing to choose between
    assert "skipped_reason" in evaluate_gtzan_zero_shot(narrow, embedder, str(eval_corpus / "demo" / "gtzan"),
                                                        splits_dir=splits_dir)


class PlaylistOracle(OracleSpace):
    """`embed_cf` maps a playlist's LightFM vector to the sum of its test songs' audio vectors."""

    def __init__(self, embedder: HashEmbedder, targets: dict[bytes, np.ndarray]):
        super().__init__(embedder, ("GN0100",), {})
        self.targets = targets
        self.signatures = {"embed_cf"}

    def embed_cf(self, cf: np.ndarray) -> np.ndarray:
        return np.stack([self.targets[row.tobytes()] for row in cf.astype(np.float32)])


def test_cold_start_ranks_each_playlists_songs_first(demo_corpus, prepared_demo):
    melon_dir = os.path.join(demo_corpus, "melon")
    embedder = HashEmbedder()
    vectors = load_playlist_vectors(prepared_demo)
    test = set(load_test_songs(prepared_demo).tolist())
    targets = {}
    for playlist in melon.load_playlists(melon_dir):
        songs = sorted(set(playlist["songs"]) & test)
        if songs and playlist["id"] in vectors:
            audio = np.concatenate([embedder.mel_track(melon_dir, s) for s in songs])
            targets[vectors[playlist["id"]].tobytes()] = unit_rows(audio).sum(axis=0)
    result = evaluate_cold_start(PlaylistOracle(embedder, targets), embedder, melon_dir, prepared_demo)
    assert result["ndcg@100"] == pytest.approx(1.0) and result["map@100"] == pytest.approx(1.0)
    assert result["random_baseline"]["ndcg@100"] < 0.9
    assert result["n_playlists"] >= 10 and result["n_candidates"] == len(test)
    with pytest.raises(MissingSignatureError, match="embed_cf"):
        evaluate_cold_start(OracleSpace(embedder, ("GN0100",), {}), embedder, melon_dir, prepared_demo)


def test_tables_show_the_joint_space_columns_and_dashes_where_a_model_has_none():
    gtzan_runs = {
        "Contr": {"accuracy": {"mean": 0.8, "std": 0.01}, "dim": 1024, "zero_shot": {"accuracy": 0.4, "chance": 0.1},
                  "random_baseline": {"accuracy": {"mean": 0.1, "std": 0.0}}},
        "Bline": {"accuracy": {"mean": 0.7, "std": 0.02}, "dim": 1024, "zero_shot": {"skipped_reason": "no genres"}},
    }
    table = results.markdown_table("gtzan", gtzan_runs)
    assert "| Contr | 0.800 ± 0.010 | 0.400 |" in table and "| Bline | 0.700 ± 0.020 | – |" in table
    assert "| Random embeddings (1024-d) | 0.100 ± 0.000 | 0.100 |" in table
    gtzan_runs["Contr"]["zero_shot"] = {"accuracy": 0.6, "chance": 0.5, "classes": ["metal/rock", "jazz"],
                                        "left_out": ["blues", "disco"]}
    assert ("- Contr: zero-shot accuracy over 2 of 10 GTZAN classes (metal/rock, jazz), chance 0.50; left out (no "
            "Melon code in the vocabulary): blues, disco") in results.markdown_table("gtzan", gtzan_runs)
    playlist = {"ndcg@100": 0.3, "map@100": 0.1, "random_baseline": {"ndcg@100": 0.1, "map@100": 0.02},
                "cold_start": {"ndcg@100": 0.25, "map@100": 0.08,
                               "random_baseline": {"ndcg@100": 0.11, "map@100": 0.03}}}
    table = results.markdown_table("playlist", {"Contr": playlist})
    assert "| Contr | 0.3000 | 0.1000 | 0.2500 | 0.0800 |" in table
    assert "| Random ranking | 0.1000 | 0.0200 | 0.1100 | 0.0300 |" in table
    table = results.markdown_table("zero_shot", {"Contr": {"roc_auc": 0.7, "pr_auc": 0.3,
                                                           "random_baseline": {"roc_auc": 0.5, "pr_auc": 0.1}}})
    assert "| Contr | 0.700 | 0.300 |" in table and "| Random scores | 0.500 | 0.100 |" in table
