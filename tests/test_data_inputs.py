"""prepare: bad inputs and flags are refused before anything is written, odd entries are counted, shard order."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_PREPARE
from scipy.stats import spearmanr

from cmir_tf.data import melon, prepare, shard_stage, tfrecords
from cmir_tf.evaluation.files import MissingFilesError, check_missing


def _copy_melon(demo_corpus, tmp_path) -> str:
    melon_dir = str(tmp_path / "melon")
    shutil.copytree(os.path.join(demo_corpus, "melon"), melon_dir)
    return melon_dir


def _write(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)


def test_a_failed_prepare_writes_nothing_and_odd_entries_are_counted(demo_corpus, tmp_path):
    melon_dir, out = _copy_melon(demo_corpus, tmp_path), str(tmp_path / "prepared")
    meta_path = os.path.join(melon_dir, "song_meta.json")
    good_meta = melon.load_json(meta_path)

    with open(meta_path, "r+") as f:
        f.truncate(1000)
    with pytest.raises(melon.MelonInputError, match="song_meta.json"):
        prepare.prepare(prepare.PrepareConfig(melon_dir, out, **TINY_PREPARE))
    with pytest.raises(prepare.PrepareUsageError, match="--genre_matrix and --genre_code_map go together"):
        prepare.prepare(prepare.PrepareConfig(melon_dir, out, genre_matrix=meta_path, **TINY_PREPARE))
    with pytest.raises(prepare.PrepareUsageError, match="--frames must be >= 256"):
        prepare.prepare(prepare.PrepareConfig(melon_dir, out, **{**TINY_PREPARE, "frames": 100}))
    assert not os.path.exists(out)

    with_genres = [s for s in good_meta if s["song_gn_gnr_basket"]]
    odd = [{**with_genres[0], "id": "12"}, dict(with_genres[1])]  # a string id, a duplicate
    with_genres[2]["song_gn_dtl_gnr_basket"] = [*with_genres[2]["song_gn_dtl_gnr_basket"], 42]  # an int code
    with_genres[3]["song_gn_gnr_basket"] = [*with_genres[3]["song_gn_gnr_basket"], "GN9900"]  # not in genre_gn_all
    _write(meta_path, good_meta + odd)
    prepare.prepare(prepare.PrepareConfig(melon_dir, out, **{**TINY_PREPARE, "frames": 500}))  # other flags: free
    report = melon.load_json(os.path.join(out, "report.json"))
    assert report["dropped_before_split"]["bad_id"] == 1 and report["dropped_before_split"]["duplicate_id"] == 1
    assert report["dropped_examples"]["bad_id"] == ["12"]
    assert report["dropped_examples"]["duplicate_id"] == [with_genres[1]["id"]]
    assert report["genre_codes"] == {"not_strings": 1, "unknown": 1, "unknown_songs": 1, "unknown_examples": ["GN9900"]}

    with pytest.raises(ValueError, match=r"flags.frames: 500 -> 600"):
        prepare.prepare(prepare.PrepareConfig(melon_dir, out, **TINY_PREPARE))


def test_usage_errors_exit_with_status_2_before_writing(demo_corpus, tmp_path):
    out = tmp_path / "prepared"
    command = [sys.executable, "-m", "cmir_tf", "prepare", f"--melon_dir={tmp_path / 'nowhere'}",
               f"--output_dir={out}", "--genre_matrix=m.npy", "--cf_threads=0"]
    result = subprocess.run(command, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and not out.exists()
    for named in ("has no song_meta.json", "--genre_matrix and --genre_code_map", "--cf_threads must be >= 1"):
        assert named in result.stderr


def test_paper_defaults_train_playlists_and_reproducible_cf(demo_corpus, prepared_demo):
    manifest = melon.load_json(os.path.join(prepared_demo, "manifest.json"))
    assert manifest["flags"]["playlists"] == "train" and manifest["playlist_files"] == ["train.json"]
    assert set(manifest["inputs"]) == {"song_meta.json", "genre_gn_all.json", "train.json"}
    melon_dir = os.path.join(demo_corpus, "melon")
    assert os.path.exists(os.path.join(melon_dir, "val.json"))  # so "all" would read more
    assert len(melon.load_playlists(melon_dir, "all")) > len(melon.load_playlists(melon_dir, "train"))
    assert prepare.PrepareConfig("m", "o").cf_threads == 1


def test_songs_are_written_in_a_seeded_random_order(prepared_demo):
    ids = [int(record["song_id"]) for record in tf.data.TFRecordDataset(
        sorted(tf.io.gfile.glob(os.path.join(prepared_demo, "tfrecords", "train-*.tfrecord")))).map(
        tfrecords.parse_example)]
    assert len(ids) > 100 and abs(spearmanr(np.arange(len(ids)), ids).statistic) < 0.2
    # On a split of Melon's scale the order is as good as random: |Spearman| ~ 1 / sqrt(n).
    split_ids = {"train": list(range(10_000)), "validation": [], "test": []}
    config = prepare.PrepareConfig("m", "o", songs_per_shard=100)
    jobs = shard_stage.shard_jobs(config, "m", split_ids, {s: [1] for s in range(10_000)}, {}, {})
    order = [s for job in jobs for s in job.song_ids]
    assert sorted(order) == split_ids["train"] and abs(spearmanr(np.arange(10_000), order).statistic) < 0.1
    assert order == [s for job in shard_stage.shard_jobs(config, "m", split_ids, {s: [1] for s in range(10_000)}, {}, {})
                     for s in job.song_ids]


def test_allow_missing_with_every_file_missing_is_a_clear_error():
    with pytest.raises(MissingFilesError, match="none of the 3 files listed in GTZAN"):
        check_missing(["a", "b", "c"], 3, "GTZAN", allow_missing=True)
    assert check_missing(["a"], 3, "GTZAN", allow_missing=True) == 1
