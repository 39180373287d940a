"""Session-wide test set-up shared by every test module (fixtures only, plus TF device set-up)."""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

# Two logical CPU devices, so tf.distribute tests can run MirroredStrategy with two replicas on any CI
# machine. This must happen before TensorFlow initialises its devices, hence at conftest import.
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()],
)


@pytest.fixture(scope="session")
def two_replicas() -> tf.distribute.MirroredStrategy:
    """One MirroredStrategy over the two logical CPUs, shared by every test: separate strategy objects in one
    process reuse collective instance keys, and their collectives then abort each other."""
    return tf.distribute.MirroredStrategy([d.name for d in tf.config.list_logical_devices("CPU")[:2]])


# A tiny demo corpus and its prepared TFRecords, generated once per test session (a few seconds).
TINY_CORPUS = dict(
    melon_songs=150,
    melon_playlists=60,
    min_frames=280,
    max_frames=700,
    gtzan_per_genre=2,
    gtzan_seconds=2.0,
    jamendo_tracks=20,
    jamendo_seconds=2.0,
    workers=1,
)
TINY_PREPARE = dict(songs_per_shard=10, cf_threads=1, word2vec_dim=32, frames=600)


@pytest.fixture(scope="session")
def demo_corpus(tmp_path_factory) -> str:
    """Folder of `cmir_tf.data.synthetic.generate(**TINY_CORPUS)`: melon/, gtzan/genres/, mtg-jamendo/."""
    from cmir_tf.data import synthetic

    path = str(tmp_path_factory.mktemp("demo") / "corpus")
    synthetic.generate(path, seed=0, **TINY_CORPUS)
    return path


@pytest.fixture(scope="session")
def prepared_demo(demo_corpus, tmp_path_factory) -> str:
    """`cmir_tf.data.prepare` output for `demo_corpus`'s Melon folder (15 shards, 10 songs each)."""
    from cmir_tf.data import prepare

    path = str(tmp_path_factory.mktemp("prepared") / "melon")
    prepare.prepare(prepare.PrepareConfig(os.path.join(demo_corpus, "melon"), path, **TINY_PREPARE))
    return path
