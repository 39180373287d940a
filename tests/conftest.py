"""Session-wide test set-up shared by every test module (fixtures only, plus TF device set-up)."""

import os
import platform
import subprocess

import pytest

# Quiet C++ logs as the commands have them (a test that reads TensorFlow's lines sets its own level).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# oneDNN kernels as every cmir-tf entry point has them (`cmir_tf.runtime`: on x86 unless set): TensorFlow's own
# default leaves them off on AVX2-only CPUs, which would test other kernels there than users run.
if platform.machine().lower() in ("x86_64", "amd64", "i386", "i686"):
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

from cmir_tf import runtime  # noqa: E402

runtime.load_tensorflow()  # without its load-time lines, which every pytest-xdist worker would print
import tensorflow as tf  # noqa: E402

# Two logical CPU devices, so tf.distribute tests can run MirroredStrategy with two replicas on any CI
# machine. This must happen before TensorFlow initialises its devices, hence at conftest import.
tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0],
    [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()],
)


@pytest.fixture
def bf16_runs() -> None:
    """Skips the test where bf16 ops cannot run: oneDNN capped below AVX-512 on an avx512f CPU, the set-up that
    emulates an AVX2 CPU (`cmir_tf.cpu.bf16_unavailable_reason`)."""
    from cmir_tf.cpu import bf16_unavailable_reason, cpu_model_and_flags

    reason = bf16_unavailable_reason(cpu_model_and_flags()[1])
    if reason:
        pytest.skip(reason)


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
    """Folder of `cmir_tf.synthetic.corpus.generate(**TINY_CORPUS)`: melon/, gtzan/genres/, mtg-jamendo/."""
    from cmir_tf.synthetic import corpus as synthetic

    path = str(tmp_path_factory.mktemp("demo") / "corpus")
    synthetic.generate(path, seed=0, **TINY_CORPUS)
    return path


@pytest.fixture(scope="session")
def prepared_demo(demo_corpus, tmp_path_factory) -> str:
    """`cmir_tf.data.prepare.prepare` output for `demo_corpus`'s Melon folder (15 shards, 10 songs each)."""
    from cmir_tf.data import prepare

    path = str(tmp_path_factory.mktemp("prepared") / "melon")
    prepare.prepare(prepare.PrepareConfig(os.path.join(demo_corpus, "melon"), path, **TINY_PREPARE))
    return path


@pytest.fixture(scope="session")
def eval_corpus(tmp_path_factory):
    """A small corpus for downstream evaluation (pathlib.Path): `demo/` (synthetic: 60 Melon songs, 9 GTZAN
    clips per genre, 50 MTG-Jamendo tracks), `gtzan_lists/` (clips 0-2, 3-5, 6-8 of each genre as train,
    validation, test) and `prepared/splits.json` (every fifth song a playlist-continuation candidate)."""
    import json

    from cmir_tf.evaluation import gtzan
    from cmir_tf.synthetic.corpus import generate

    root = tmp_path_factory.mktemp("eval_corpus")
    generate(str(root / "demo"), melon_songs=60, melon_playlists=30, min_frames=256, max_frames=300,
             gtzan_per_genre=9, gtzan_seconds=4.5, jamendo_tracks=50, jamendo_seconds=4.0, workers=1)
    lists = root / "gtzan_lists"
    lists.mkdir()
    for k, split in enumerate(gtzan.SPLIT_FILES):
        names = [f"{genre}/{genre}.{3 * k + i:05d}.wav" for genre in gtzan.GENRES for i in range(3)]
        (lists / gtzan.SPLIT_FILES[split]).write_text("\n".join(names) + "\n")
    prepared = root / "prepared"
    prepared.mkdir()
    songs = list(range(60))
    (prepared / "splits.json").write_text(json.dumps(
        {"train": [s for s in songs if s % 5 > 1], "validation": songs[1::5], "test": songs[::5]}))
    return root


@pytest.fixture(scope="session")
def read_only(tmp_path_factory):
    """A folder on a real read-only file system (a tmpfs mounted `ro`): the kernel refuses every write,
    TensorFlow's C++ ones included. Needs the right to mount (root, as CI runs)."""
    path = tmp_path_factory.mktemp("read_only")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here (mount: {mounted.stderr.strip()}); "
                    "the read-only cases need root")
    yield path
    subprocess.run(["umount", str(path)], check=True)


# Exported models shared by every test that only reads them (exporting one takes several seconds on 2 cores).
# A test that changes an export's files works on a copy (`shutil.copytree`).
@pytest.fixture(scope="session")
def audio_export(tmp_path_factory) -> str:
    """SavedModel folder of a randomly initialised audio encoder exported as the baseline variant `bline_g`
    records it: the audio signatures only (`embed_mel`, `embed_track_mel`, `embed_waveform`), no joint space."""
    from cmir_tf.export import export_audio_encoder
    from cmir_tf.models import build_audio_encoder

    path = str(tmp_path_factory.mktemp("audio_export") / "model")
    return export_audio_encoder(build_audio_encoder(), path, {"variant": "bline_g"})


@pytest.fixture(scope="session")
def perturbed_export(tmp_path_factory) -> tuple:
    """(encoder, its SavedModel folder): `test_export.perturbed_encoder()`, whose BatchNorm statistics are far
    from the identity so that inference mode matters, exported with `test_export.METADATA`."""
    from test_export import METADATA, perturbed_encoder

    from cmir_tf.export import export_audio_encoder

    encoder = perturbed_encoder()
    path = str(tmp_path_factory.mktemp("perturbed_export") / "model")
    return encoder, export_audio_encoder(encoder, path, METADATA)


@pytest.fixture(scope="session")
def tag_model(prepared_demo, tmp_path_factory) -> tuple:
    """(randomly initialised `contr_cf_g_t` on the demo vocabularies, its SavedModel folder): every joint-space
    signature, the playlist-tag ones included."""
    import keras

    from cmir_tf.data.prepared import PreparedFolder
    from cmir_tf.export import export_audio_encoder
    from cmir_tf.export.genre_vocabulary import GenreVocabulary, tags_from_prepared
    from cmir_tf.models import build_variant

    folder = PreparedFolder(prepared_demo)
    keras.utils.set_random_seed(0)
    model = build_variant("contr_cf_g_t", folder.genre_word2vec(), dropout=0.0, tag_word2vec=folder.tag_word2vec())
    path = export_audio_encoder(
        model.audio_encoder, str(tmp_path_factory.mktemp("tags") / "model"), {"variant": "contr_cf_g_t"},
        genre_encoder=model.genre_encoder, cf_encoder=model.cf_encoder,
        vocabulary=GenreVocabulary.from_prepared(prepared_demo), tag_encoder=model.tag_encoder,
        tags=tags_from_prepared(prepared_demo))
    return model, path


from absl import logging as absl_logging  # noqa: E402

ABSL_LEVEL = absl_logging.get_absl_logger().level  # before any test parses absl flags


@pytest.fixture(autouse=True)
def absl_log_level_kept():
    """Every test starts and ends with absl's logger at its level from before the session. An in-process
    `app.run` or flag parse (a CLI's main run by a test, or a fixture doing so) sets it from `--verbosity`
    (WARNING by default), which would hide the INFO stage lines later tests read from `caplog`, in whatever
    order the tests run (pytest-xdist groups them by module)."""
    logger = absl_logging.get_absl_logger()
    logger.setLevel(ABSL_LEVEL)
    yield
    logger.setLevel(ABSL_LEVEL)
