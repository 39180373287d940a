"""The on-disk embedding cache: shards, reload, resume after a failure, skipped errors."""

import os

import numpy as np
import pytest

from cmir_tf.evaluation.embeddings import EmbeddingCache


class Stub:
    model_key, output, dim = "stub-0123", "embedding", 3


def _embed(key: str) -> np.ndarray:
    if key.startswith("bad"):
        raise ValueError("cannot decode")
    return np.full((int(key[-1]) + 1, 3), float(key[-1]), np.float32)


def test_cache_shards_reload_and_resume(tmp_path):
    cache = EmbeddingCache(str(tmp_path), Stub(), "corpus", flush_every=2)
    with pytest.raises(ValueError, match="bad9: ValueError: cannot decode"):
        cache.compute(["k0", "k1", "k2", "bad9", "k3"], _embed, skip_errors=False, desc="test")
    folder = tmp_path / "stub-0123" / "corpus-embedding"
    assert sorted(os.listdir(folder)) == ["shard-00000.npz", "shard-00001.npz"]  # k0 k1 | k2 (saved on error)

    calls = []
    resumed = EmbeddingCache(str(tmp_path), Stub(), "corpus", flush_every=2)
    assert len(resumed) == 3
    embeddings, failed = resumed.compute(["k2", "bad9", "k3", "k0"], lambda k: calls.append(k) or _embed(k),
                                         skip_errors=True, desc="test")
    assert calls == ["bad9", "k3"]  # only the uncached keys
    assert list(embeddings) == ["k2", "k3", "k0"] and failed == {"bad9": "ValueError: cannot decode"}
    np.testing.assert_array_equal(embeddings["k2"], np.full((3, 3), 2.0))
    assert len(EmbeddingCache(str(tmp_path), Stub(), "corpus")) == 4
    assert not [f for f in os.listdir(folder) if f.endswith(".tmp")]


def test_memory_only_cache_writes_nothing(tmp_path):
    cache = EmbeddingCache(None, Stub(), "corpus")
    embeddings, _ = cache.compute(["k1"], _embed, skip_errors=False, desc="test")
    assert embeddings["k1"].shape == (2, 3) and not os.listdir(tmp_path)
