"""The t-SNE map of the Melon test songs' embeddings that evaluate.py draws with the playlist task."""

import json

import numpy as np
from test_eval_playlist import MeanMelEmbedder

from cmir_tf.evaluation.embedding_map import melon_embedding_map, top_genre_labels, tsne_2d


def test_map_of_the_test_songs(eval_corpus, tmp_path):
    melon = str(eval_corpus / "demo" / "melon")
    test_songs = json.loads((eval_corpus / "prepared" / "splits.json").read_text())["test"]
    png = tmp_path / "map.png"
    summary = melon_embedding_map(MeanMelEmbedder(), melon, str(eval_corpus / "prepared"), str(png),
                                  cache_dir=str(tmp_path / "cache"))
    assert summary["songs"] == len(test_songs) and summary["skipped"] == 0
    assert sum(summary["genres"].values()) == len(test_songs)
    assert png.read_bytes().startswith(b"\x89PNG") and not list(tmp_path.glob("*.tmp"))
    labels = top_genre_labels(melon, test_songs + [10**9])
    meta = {song["id"]: song for song in json.loads((eval_corpus / "demo" / "melon" / "song_meta.json").read_text())}
    expected = ["unknown" if not meta[s]["song_gn_gnr_basket"] else meta[s]["song_gn_gnr_basket"][0] for s in test_songs]
    assert labels[-1] == "unknown" and [label.split()[0] for label in labels[:-1]] == expected


def test_tsne_is_seeded_and_two_dimensional():
    vectors = np.random.default_rng(0).normal(size=(40, 64)).astype(np.float32)
    points = tsne_2d(vectors, seed=1)
    assert points.shape == (40, 2) and np.isfinite(points).all()
    np.testing.assert_allclose(tsne_2d(vectors, seed=1), points, rtol=1e-5, atol=1e-5)
