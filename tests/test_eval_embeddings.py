"""The on-disk embedding cache (shards, reload, resume after a failure, skipped errors) and the batching of
chunks across tracks."""

import os

import numpy as np
import pytest

from cmir_tf.audio import chunk_mel
from cmir_tf.evaluation.embeddings import EmbeddingCache
from cmir_tf.export.chunk_batches import TRACK_MEL, embed_tracks


class Stub:
    model_key, output, dim = "stub-0123", "embedding", 3


def _embed_many(keys):
    for key in keys:
        yield key, ValueError("cannot decode") if key.startswith("bad") else np.full((int(key[-1]) + 1, 3),
                                                                                    float(key[-1]), np.float32)


def test_cache_shards_reload_and_resume(tmp_path):
    cache = EmbeddingCache(str(tmp_path), Stub(), "corpus", flush_every=2)
    with pytest.raises(ValueError, match="bad9: ValueError: cannot decode"):
        cache.compute(["k0", "k1", "k2", "bad9", "k3"], _embed_many, skip_errors=False, desc="test")
    folder = tmp_path / "stub-0123" / "corpus-embedding"
    assert sorted(os.listdir(folder)) == ["shard-00000.npz", "shard-00001.npz"]  # k0 k1 | k2 (saved on error)

    calls = []
    resumed = EmbeddingCache(str(tmp_path), Stub(), "corpus", flush_every=2)
    assert len(resumed) == 3
    embeddings, failed = resumed.compute(["k2", "bad9", "k3", "k0"], lambda keys: calls.extend(keys) or _embed_many(keys),
                                         skip_errors=True, desc="test")
    assert calls == ["bad9", "k3"]  # only the uncached keys
    assert list(embeddings) == ["k2", "k3", "k0"] and failed == {"bad9": "ValueError: cannot decode"}
    np.testing.assert_array_equal(embeddings["k2"], np.full((3, 3), 2.0))
    assert len(EmbeddingCache(str(tmp_path), Stub(), "corpus")) == 4
    assert not [f for f in os.listdir(folder) if f.endswith(".tmp")]


def test_memory_only_cache_writes_nothing(tmp_path):
    cache = EmbeddingCache(None, Stub(), "corpus")
    embeddings, _ = cache.compute(["k1"], _embed_many, skip_errors=False, desc="test")
    assert embeddings["k1"].shape == (2, 3) and not os.listdir(tmp_path)


def test_chunks_of_consecutive_tracks_share_model_calls_in_order():
    rng = np.random.default_rng(0)
    tracks = {f"t{i}": rng.normal(size=(frames, 48)).astype(np.float32) for i, frames in
              enumerate([300, 10, 700, 256, 1, 520])}  # 2, 1, 3, 1, 1, 3 chunks

    def load(key):
        if key == "bad":
            raise OSError("unreadable")
        return tracks[key]

    batch_sizes = []

    def embed_chunks(chunks):  # (B, 256, 48) -> (B, 2): mean and first value of each chunk
        batch_sizes.append(len(chunks))
        return np.stack([chunks.mean(axis=(1, 2)), chunks[:, 0, 0]], axis=1)

    keys = ["t0", "t1", "bad", "t2", "t3", "t4", "t5"]
    results = list(embed_tracks(embed_chunks, keys, load, TRACK_MEL, batch_size=4))
    assert batch_sizes == [4, 4, 3]  # 11 chunks of 6 readable tracks: full batches across tracks
    assert [key for key, _, _ in results] == keys
    key, error, length = results[2]
    assert isinstance(error, OSError) and length == 0
    for key, rows, length in results[:2] + results[3:]:
        expected = chunk_mel(tracks[key]).numpy()
        assert length == len(tracks[key])
        np.testing.assert_allclose(rows, np.stack([expected.mean(axis=(1, 2)), expected[:, 0, 0]], axis=1),
                                   rtol=1e-6)
