"""Bad inputs are counted, never fatal; a killed prepare resumes to the same manifest."""

import glob
import json
import os
import shutil
import signal
import subprocess
import sys

import numpy as np
from conftest import TINY_PREPARE

from cmir_tf.data import melon, prepare


def _songs_with_genres(melon_dir):
    return [s for s in melon.load_json(os.path.join(melon_dir, "song_meta.json")) if s["song_gn_gnr_basket"]]


def test_corrupted_inputs_are_counted(demo_corpus, tmp_path, caplog):
    melon_dir = str(tmp_path / "melon")
    shutil.copytree(os.path.join(demo_corpus, "melon"), melon_dir)
    meta = melon.load_json(os.path.join(melon_dir, "song_meta.json"))
    truncated, nans, zeros, deleted, no_genre, short = (s["id"] for s in _songs_with_genres(melon_dir)[:6])
    path = lambda song: melon.mel_path(melon_dir, song)  # noqa: E731
    with open(path(truncated), "r+b") as f:
        f.truncate(200)
    np.save(path(nans), np.full((48, 400), np.nan, np.float16))
    np.save(path(zeros), np.zeros((48, 400), np.float16))
    os.remove(path(deleted))
    np.save(path(short), np.full((48, 100), -30.0, np.float16))
    no_genres_before = sum(not s["song_gn_gnr_basket"] for s in meta)
    for s in meta:
        if s["id"] == no_genre:
            s["song_gn_gnr_basket"], s["song_gn_dtl_gnr_basket"] = [], []
    with open(os.path.join(melon_dir, "song_meta.json"), "w") as f:
        json.dump(meta, f)
    playlists = melon.load_json(os.path.join(melon_dir, "train.json"))
    playlists[0]["songs"].append(10**7)
    with open(os.path.join(melon_dir, "train.json"), "w") as f:
        json.dump(playlists, f)

    out = str(tmp_path / "prepared")
    with caplog.at_level("INFO"):
        manifest = prepare.prepare(prepare.PrepareConfig(melon_dir, out, **TINY_PREPARE))
    with open(os.path.join(out, "report.json")) as f:
        report = json.load(f)
    # every skipped input is counted in its stage's line, not only in report.json
    assert f"dropped: missing_npy 1, no_genres {no_genres_before + 1}; playlist entries: " in caplog.text
    assert "skipped: absent_from_metadata 1" in caplog.text
    assert "skipped mels: all_zero 1, corrupt_npy 1, non_finite 1; short mels padded: 1" in caplog.text
    assert report["dropped_before_split"] == {
        "bad_id": 0,
        "duplicate_id": 0,
        "no_genres": no_genres_before + 1,
        "missing_npy": 1,
        "genres_not_in_vocabulary": 0,
    }
    assert report["skipped_mels"] == {"corrupt_npy": 1, "non_finite": 1, "all_zero": 1}
    assert report["skipped_mel_examples"] == {"corrupt_npy": [truncated], "non_finite": [nans], "all_zero": [zeros]}
    assert report["short_padded"] == 1 and report["playlist_songs"]["absent_from_metadata"] == 1
    assert sum(manifest["counts"].values()) == sum(manifest["songs_in_splits"].values()) - 3
    assert not glob.glob(os.path.join(out, "**", ".*.partial"), recursive=True)


def _prepare_command(melon_dir, out, workers=1):
    flags = [f"--{k}={v}" for k, v in {**TINY_PREPARE, "songs_per_shard": 1, "workers": workers}.items()]
    return [sys.executable, "-m", "cmir_tf", "prepare", f"--melon_dir={melon_dir}", f"--output_dir={out}", *flags]


def test_killed_prepare_resumes_to_the_same_manifest(demo_corpus, tmp_path):
    melon_dir = os.path.join(demo_corpus, "melon")
    one_song_shards = {**TINY_PREPARE, "songs_per_shard": 1}
    reference = prepare.prepare(prepare.PrepareConfig(melon_dir, str(tmp_path / "whole"), **one_song_shards))

    out = str(tmp_path / "killed")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    killer = os.path.join(os.path.dirname(os.path.abspath(__file__)), "kill_during_shard.py")
    flags = _prepare_command(melon_dir, out)[4:]
    process = subprocess.run([sys.executable, killer, "5", *flags], env=env, stderr=subprocess.DEVNULL)
    assert process.returncode == -signal.SIGKILL
    assert not os.path.exists(os.path.join(out, "manifest.json"))
    assert glob.glob(os.path.join(out, "tfrecords", ".*.partial")), "the kill should leave a half-written shard"
    finished = len(glob.glob(os.path.join(out, "cache", "shards", "*.json")))
    assert finished >= 4  # one song per shard: killed inside the shard of the 5th record

    # The rerun uses two worker processes: the result must not depend on the worker count either.
    command = _prepare_command(melon_dir, out, workers=2)
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    total = sum(len(v) for v in reference["shards"].values())
    assert f"{total} shards, {total - finished} to write" in rerun.stderr
    with open(os.path.join(out, "manifest.json")) as f:
        assert json.load(f) == reference
    assert not glob.glob(os.path.join(out, "**", ".*.partial"), recursive=True)
