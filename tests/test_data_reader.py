"""`cmir_tf.data.make_dataset` on the prepared tiny demo corpus: shapes, determinism, crops, distribution."""

import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from cmir_tf.data import make_dataset, tfrecords


@pytest.fixture(scope="module")
def full_mels(prepared_demo):
    """song id -> stored (T, 48) float32 mel, for every split."""
    files = sorted(glob.glob(os.path.join(prepared_demo, "tfrecords", "*.tfrecord")))
    return {int(r["song_id"]): r["mel"].numpy() for r in map(tfrecords.parse_example, tf.data.TFRecordDataset(files))}


def _batches(dataset):
    return [{k: v.numpy() for k, v in b.items()} for b in dataset]


def test_element_spec(prepared_demo):
    spec = make_dataset(prepared_demo, "train", 8, training=True, seed=0).element_spec
    assert spec == {
        "mel": tf.TensorSpec((8, 256, 48), tf.float32),
        "genre_ids": tf.TensorSpec((8, 10), tf.int32),
        "cf": tf.TensorSpec((8, 301), tf.float32),
        "has_cf": tf.TensorSpec((8,), tf.float32),
        "song_id": tf.TensorSpec((8,), tf.int64),
        "tag_ids": tf.TensorSpec((8, 10), tf.int32),
        "has_tags": tf.TensorSpec((8,), tf.float32),
    }


def test_training_is_deterministic_per_seed_and_epoch(prepared_demo):
    def run(**kw):
        return _batches(make_dataset(prepared_demo, "train", 8, training=True, **kw))

    first = run(seed=1, epoch=0)
    assert len(first) == 118 // 8  # incomplete last batch dropped
    again = run(seed=1, epoch=0)
    for a, b in zip(first, again):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    order = np.concatenate([b["song_id"] for b in first])
    assert len(set(order)) == len(order)
    assert not np.array_equal(order, np.concatenate([b["song_id"] for b in run(seed=1, epoch=1)]))
    assert not np.array_equal(order, np.concatenate([b["song_id"] for b in run(seed=2, epoch=0)]))
    resumed = run(seed=1, epoch=0, skip_batches=5)
    assert len(resumed) == len(first) - 5
    for a, b in zip(first[5:], resumed):
        np.testing.assert_array_equal(a["song_id"], b["song_id"])
        np.testing.assert_array_equal(a["mel"], b["mel"])


def _offset(full, crop):
    """Frame offsets where `crop` (256, 48) occurs in `full` (T, 48)."""
    return [o for o in range(full.shape[0] - 255) if np.array_equal(full[o : o + 256], crop)]


def test_random_crops_lie_inside_the_song_and_change_per_epoch(prepared_demo, full_mels):
    offsets = {}
    for epoch in (0, 1):
        for batch in _batches(make_dataset(prepared_demo, "train", 16, training=True, seed=0, epoch=epoch)):
            for song, crop in zip(batch["song_id"], batch["mel"]):
                found = _offset(full_mels[song], crop)
                assert found, f"crop of song {song} is not a window of its mel"
                offsets.setdefault(song, []).append(found[0])
    lengths = {s: full_mels[s].shape[0] for s in offsets}
    assert all(0 <= o <= lengths[s] - 256 for s, os_ in offsets.items() for o in os_)
    moved = [len(set(o)) > 1 for s, o in offsets.items() if len(o) == 2 and lengths[s] > 300]
    assert sum(moved) > 0.8 * len(moved)
    assert max(o for os_ in offsets.values() for o in os_) > 100  # not always the start


def test_evaluation_center_and_all_chunks(prepared_demo, full_mels):
    center = _batches(make_dataset(prepared_demo, "validation", 4, training=False, seed=0))
    with open(os.path.join(prepared_demo, "splits.json")) as f:
        n = len(json.load(f)["validation"])
    assert n % 4 and [len(b["song_id"]) for b in center] == [4] * (n // 4) + [n % 4]  # remainder kept
    for batch in center:
        for song, crop in zip(batch["song_id"], batch["mel"]):
            full = full_mels[song]
            offset = (full.shape[0] - 256) // 2
            np.testing.assert_array_equal(crop, full[offset : offset + 256])
    songs = np.concatenate([b["song_id"] for b in center])
    chunks = _batches(make_dataset(prepared_demo, "validation", 4, training=False, seed=0, chunks="all"))
    chunk_songs = np.concatenate([b["song_id"] for b in chunks])
    assert len(chunk_songs) == sum(full_mels[s].shape[0] // 256 for s in songs)
    assert len(chunk_songs) > len(songs)
    mels = np.concatenate([b["mel"] for b in chunks])
    k = 0
    for song in songs:
        for c in range(full_mels[song].shape[0] // 256):
            assert chunk_songs[k] == song
            np.testing.assert_array_equal(mels[k], full_mels[song][c * 256 : (c + 1) * 256])
            k += 1


def test_input_context_shards_disjointly(prepared_demo):
    seen = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline, num_replicas_in_sync=2)
        batches = _batches(make_dataset(prepared_demo, "test", 8, training=False, seed=0, input_context=context))
        assert max(len(b["song_id"]) for b in batches) == 4  # per-replica batch size
        seen.append(set(np.concatenate([b["song_id"] for b in batches]).tolist()))
    assert not seen[0] & seen[1]
    everything = _batches(make_dataset(prepared_demo, "test", 8, training=False, seed=0))
    assert seen[0] | seen[1] == set(np.concatenate([b["song_id"] for b in everything]).tolist())


def test_mirrored_strategy_distributes_batches(prepared_demo, two_replicas):
    strategy = two_replicas
    assert strategy.num_replicas_in_sync == 2
    dataset = strategy.distribute_datasets_from_function(
        lambda context: make_dataset(prepared_demo, "train", 16, training=True, seed=0, input_context=context)
    )

    @tf.function
    def step(batch):
        return strategy.run(lambda b: tf.shape(b["mel"])[0], (batch,))

    sizes, songs = [], []
    for batch in dataset:
        sizes.extend(int(x) for x in strategy.experimental_local_results(step(batch)))
        songs.extend(np.concatenate([t.numpy() for t in strategy.experimental_local_results(batch["song_id"])]))
    assert sizes and set(sizes) == {8}
    assert len(songs) == len(set(songs)) == (118 // 16) * 16
