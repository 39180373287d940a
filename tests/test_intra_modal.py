"""Intra-modal positives: the new loss terms against NumPy, partner lists inside their split, the reader's
views, two-step training of each new variant, and bitwise resume of one under --deterministic."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from cmir_tf import batch_keys
from cmir_tf.constants import INTRA_MODAL_VARIANTS
from cmir_tf.data import make_dataset, partners, tfrecords
from cmir_tf.losses import TERM_VIEWS
from cmir_tf.models import VARIANT_LOSSES, CrossModalModel, build_cf_encoder, build_genre_encoder
from cmir_tf.training.config import canonical_variant

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ALL_VIEWS = batch_keys.VIEWS


def reference_nt_xent(a: np.ndarray, b: np.ndarray, temperature: float, mask: np.ndarray) -> float:
    """Symmetric NT-Xent of paired rows, written out: rows outside `mask` are neither anchors nor negatives."""
    z = np.concatenate([a, b]).astype(np.float64)
    z /= np.linalg.norm(z, axis=1, keepdims=True)
    n = len(a)
    keep = np.concatenate([mask, mask]).astype(bool)
    losses = []
    for r in np.flatnonzero(keep):
        positive = (r + n) % (2 * n)
        columns = [c for c in np.flatnonzero(keep) if c != r]
        logits = {c: z[r] @ z[c] / temperature for c in columns}
        top = max(logits.values())
        losses.append(top + np.log(sum(np.exp(v - top) for v in logits.values())) - logits[positive])
    return float(np.mean(losses)) if losses else 0.0


@pytest.fixture(scope="module")
def word2vec(prepared_demo) -> np.ndarray:
    return np.load(os.path.join(prepared_demo, "genre_word2vec.npy"))


@pytest.fixture(scope="module")
def views_batch(prepared_demo) -> dict:
    """One training batch of 8 with every view."""
    return next(iter(make_dataset(prepared_demo, "train", 8, training=True, seed=1, views=ALL_VIEWS)))


def tiny_audio_encoder() -> keras.Model:
    """A stand-in for the audio encoder with its output contract: (B, 256, 48) dB -> {"embedding": (B, 128)}."""
    mel = keras.Input((256, 48))
    spectrum = keras.layers.GlobalAveragePooling1D()(keras.layers.Rescaling(1 / 80)(mel))
    return keras.Model(mel, {"embedding": keras.layers.Dense(128)(spectrum)})


@pytest.mark.parametrize("variant", ["self", "pl_pos", "artist_pos", "genre_pos"])
def test_each_intra_modal_term_equals_the_numpy_reference(variant):
    keras.utils.set_random_seed(0)
    (term,) = VARIANT_LOSSES[variant]
    model = CrossModalModel(variant, tiny_audio_encoder(), temperature=0.5)
    rng = np.random.default_rng(0)
    batch = {"mel": rng.normal(size=(5, 256, 48)).astype(np.float32)}
    view = TERM_VIEWS[term]
    batch[batch_keys.view_key(view)] = rng.normal(size=(5, 256, 48)).astype(np.float32)
    mask = np.ones(5, np.float32) if view == "self" else np.array([1, 0, 1, 1, 0], np.float32)
    if batch_keys.mask_key(view):
        batch[batch_keys.mask_key(view)] = mask
    terms = model.loss_terms({k: tf.constant(v) for k, v in batch.items()}, training=False)
    assert set(terms) == {term}
    anchors = model.audio_encoder(batch["mel"], training=False)["embedding"].numpy()
    positives = model.audio_encoder(batch[batch_keys.view_key(view)], training=False)["embedding"].numpy()
    expected = reference_nt_xent(anchors, positives, 0.5, mask)
    assert float(terms[term]) == pytest.approx(expected, rel=1e-4)


def test_partner_lists_hold_only_songs_of_their_own_split(prepared_demo, demo_corpus):
    with open(os.path.join(prepared_demo, "splits.json")) as f:
        split_ids = json.load(f)
    with open(os.path.join(demo_corpus, "melon", "train.json")) as f:
        playlists = json.load(f)
    for split in partners.PARTNER_SPLITS:
        lists = partners.PartnerLists(prepared_demo, split)
        songs = set(split_ids[split])
        assert set(lists.song_ids.tolist()) <= songs and len(lists.song_ids) > 0
        for kind in batch_keys.PARTNER_KINDS:
            members = lists.kinds[kind]["group_members"]
            assert members.size == 0 or members.max() < len(lists.song_ids)  # rows of this split's songs only
            with_partner = 0
            for row in range(len(lists.song_ids)):
                found = lists.partners(row, kind)
                assert set(lists.song_ids[found].tolist()) <= songs - {int(lists.song_ids[row])}
                with_partner += bool(found.size)
            assert with_partner > 0 or split != "train", kind  # 15 validation songs: maybe no artist pair
        # Playlist partners are exactly the same-split co-members of the prepared playlists.
        row = 0
        song = int(lists.song_ids[row])
        expected = {s for p in playlists if song in p["songs"] for s in p["songs"] if s in songs} - {song}
        assert set(lists.song_ids[lists.partners(row, "playlist")].tolist()) == expected
    with pytest.raises(ValueError, match="partner lists"):
        partners.PartnerLists(prepared_demo, "test")


def test_a_partner_crop_is_read_from_the_partners_own_record(prepared_demo):
    lists = partners.PartnerLists(prepared_demo, "train")
    shard = sorted(os.listdir(os.path.join(prepared_demo, "tfrecords")))[-1]
    record = next(iter(tf.data.TFRecordDataset(os.path.join(prepared_demo, "tfrecords", shard))))
    example = tfrecords.parse_example(record, mel_dtype=tf.float16)
    if not shard.startswith("train-"):
        shard = [s for s in sorted(os.listdir(os.path.join(prepared_demo, "tfrecords"))) if s.startswith("train-")][0]
        record = next(iter(tf.data.TFRecordDataset(os.path.join(prepared_demo, "tfrecords", shard))))
        example = tfrecords.parse_example(record, mel_dtype=tf.float16)
    row = lists.row(int(example["song_id"]))
    offset = np.random.default_rng(7).integers(int(lists.frames[row]) - 255)
    crop = lists.crop(row, np.random.default_rng(7))
    np.testing.assert_array_equal(crop, example["mel"].numpy()[offset:offset + 256])


def test_views_are_deterministic_per_seed_and_epoch_and_resume_mid_epoch(prepared_demo, views_batch):
    def batches(**kwargs):
        dataset = make_dataset(prepared_demo, "train", 8, training=True, seed=1, views=ALL_VIEWS, **kwargs)
        return list(dataset.take(3))

    again = batches()
    for key, value in views_batch.items():
        np.testing.assert_array_equal(again[0][key], value, err_msg=key)
    for key, value in again[2].items():
        np.testing.assert_array_equal(batches(skip_batches=2)[0][key], value, err_msg=key)
    other_epoch = batches(epoch=1)[0]
    assert not np.array_equal(other_epoch["playlist_positive_mel"], views_batch["playlist_positive_mel"])
    assert views_batch["has_playlist_positive"].numpy().all()
    assert not np.array_equal(views_batch["self_view_mel"], views_batch["mel"])


@pytest.mark.parametrize("variant", INTRA_MODAL_VARIANTS)
def test_two_training_steps_of_each_new_variant_lower_its_loss(variant, word2vec, views_batch):
    """On reader batches with every view; the small stand-in audio encoder keeps this cheap (the resume test
    trains `hybrid` with the real one)."""
    keras.utils.set_random_seed(0)
    hybrid = variant == "hybrid"
    model = CrossModalModel(variant, tiny_audio_encoder(),
                            genre_encoder=build_genre_encoder(word2vec, 4, 0.0) if hybrid else None,
                            cf_encoder=build_cf_encoder(0.0) if hybrid else None)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    step = tf.function(model.train_step)
    losses = []
    for _ in range(3):  # the third step reports the loss after two updates
        for metric in model.metrics:
            metric.reset_state()
        logs = step(views_batch)
        losses.append(float(logs["loss"]))
    assert set(logs) == {"loss", *(f"{t}_loss" for t in VARIANT_LOSSES[variant])}
    assert np.isfinite(losses).all() and losses[2] < losses[0], losses


def test_new_variants_have_flagfiles_and_names(prepared_demo):
    from cmir_tf.evaluation import paper

    for variant in INTRA_MODAL_VARIANTS:
        alias = variant.replace("_", "", 1)
        with open(os.path.join(ROOT, f"{alias}.flags")) as f:
            assert f"--variant={variant}\n" in f.read()
        assert canonical_variant(alias) == variant and variant in paper.DISPLAY_NAMES


def test_pl_pos_resumed_mid_epoch_after_kill_9_equals_the_uninterrupted_run_bitwise(prepared_demo, tmp_path):
    """As tests/test_training.py's kill -9 test, for `pl_pos` (the real audio encoder, partner crops read by the
    reader): killed once ckpt-3 (epoch 2, one batch in) is complete, rerun, compared with an uninterrupted run."""
    from test_training import ENV, checkpoint_values

    flags = [os.path.join(ROOT, "train.py"), f"--flagfile={os.path.join(ROOT, 'plpos.flags')}",
             f"--data_dir={prepared_demo}", "--precision=float32", "--deterministic", "--batch_size=8",
             "--epochs=2", "--steps_per_epoch=2", "--validation_steps=1", "--checkpoint_every=1",
             "--log_every=1", "--shuffle_buffer=32", "--seed=3"]
    reference_dir, killed_dir, marker = str(tmp_path / "reference"), str(tmp_path / "killed"), str(tmp_path / "paused")
    # Both runs are single-threaded (--deterministic): the reference runs beside the killed and resumed ones.
    reference_log = open(tmp_path / "reference.log", "w+")  # a file, not a pipe nobody reads meanwhile
    reference = subprocess.Popen([sys.executable, *flags, f"--model_dir={reference_dir}"], env=ENV,
                                 stdout=subprocess.DEVNULL, stderr=reference_log)
    pause = [sys.executable, os.path.join(ROOT, "tests", "fault_at_checkpoint.py"), f"pause={marker}", "3"]
    process = subprocess.Popen(pause + flags[1:] + [f"--model_dir={killed_dir}"], env=ENV,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while not os.path.exists(marker) and process.poll() is None:
        time.sleep(0.05)  # polling only: the run is blocked once the marker exists
    process.send_signal(signal.SIGKILL)
    _, stderr = process.communicate()
    assert os.path.exists(marker), stderr[-3000:]
    resumed = subprocess.run([sys.executable, *flags, f"--model_dir={killed_dir}"], env=ENV, capture_output=True,
                             text=True)
    assert resumed.returncode == 0 and "resumed from" in resumed.stderr, resumed.stderr[-3000:]
    with reference_log:
        assert reference.wait() == 0, (reference_log.seek(0), reference_log.read()[-3000:])
    values = [checkpoint_values(tf.train.latest_checkpoint(os.path.join(d, "checkpoints")))
              for d in (killed_dir, reference_dir)]
    assert values[0].keys() == values[1].keys() and values[0]["progress/step/.ATTRIBUTES/VARIABLE_VALUE"] == 4
    for name, value in values[1].items():
        np.testing.assert_array_equal(values[0][name], value, err_msg=name)
