"""Validation retrieval: ties rank against the query, and audio -> playlist uses only songs with CF vectors."""

import numpy as np

from cmir_tf.training.validation import embedding_space_measures, retrieval_hits


def test_ties_are_ranked_pessimistically():
    queries = np.eye(3, dtype=np.float32)
    keys = np.array([[1, 0, 0], [1, 0, 0], [0, 0, 1]], np.float32)  # songs 0 and 1: one genre set, one embedding
    # Query 1's partner is tied with key 0 at similarity 0, and key 2 too: rank 2. Query 0's is tied with key 1.
    assert retrieval_hits(queries, keys, 1).numpy().tolist() == [0.0, 0.0, 1.0]
    assert retrieval_hits(queries, keys, 2).numpy().tolist() == [1.0, 0.0, 1.0]
    assert retrieval_hits(queries, keys, 3).numpy().tolist() == [1.0, 1.0, 1.0]


def test_audio_to_playlist_leaves_out_songs_without_cf():
    rng = np.random.default_rng(0)
    audio = rng.normal(size=(6, 8)).astype(np.float32)
    cf = audio + 0.01 * rng.normal(size=(6, 8)).astype(np.float32)
    cf[3:] = cf[0]  # what songs without a CF vector look like: all one embedding, here on song 0's
    has_cf = np.array([1, 1, 1, 0, 0, 0], np.float32)
    measures = embedding_space_measures({"audio": audio, "cf": cf}, has_cf)
    assert float(measures["retrieval_top1/audio_to_playlist"]) == 1.0
    unmasked = embedding_space_measures({"audio": audio, "cf": cf})
    assert float(unmasked["retrieval_top1/audio_to_playlist"]) < 0.5  # the ties would cost song 0 and the three
