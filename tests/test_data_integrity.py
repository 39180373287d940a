"""The prepared folder guards itself: one handle owns its names, shards verify against the manifest, one
prepare writes a folder at a time, free space is checked first, a full or read-only output ends in one line
with nothing half-written, and a killed LightFM fit resumes to the same vectors. Faults are aimed, not timed."""

import errno
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys

import pytest
import tensorflow as tf

from cmir_tf.data import melon, prepare, shard_stage, shards
from cmir_tf.data.lock import DirectoryLockedError, exclusive_lock
from cmir_tf.data.prepared import DamagedFolderError, NotPreparedError, PreparedFolder

from cli_helpers import run_command
from conftest import TINY_PREPARE
from damage import flip_a_byte

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ROOT}
FOLDER_NAMES = ("manifest.json", "report.json", "splits.json", "genre_vocab.json", "genre_word2vec.npy",
                "genre_names.json", "cf_playlist_vectors.npy", "cf_playlist_ids.npy", "cf_vectors.npy",
                "cf_song_ids.npy", "songs.json", "tfrecords", "cache")


def _copy(prepared_demo: str, tmp_path) -> PreparedFolder:
    path = str(tmp_path / "copy")
    shutil.copytree(prepared_demo, path)
    return PreparedFolder(path)


def _config(demo_corpus: str, output_dir: str, **changes) -> prepare.PrepareConfig:
    return prepare.PrepareConfig(os.path.join(demo_corpus, "melon"), output_dir, **{**TINY_PREPARE, **changes})




def test_no_module_but_the_handle_spells_a_prepared_file_name():
    sources = [p for pattern in ("cmir_tf/**/*.py", "export/*.py", "benchmarks/*.py", "*.py")
               for p in glob.glob(os.path.join(ROOT, pattern), recursive=True)]
    quoted = re.compile("[\"'](" + "|".join(re.escape(n) for n in FOLDER_NAMES) + ")[\"']")
    offenders = [f"{os.path.relpath(p, ROOT)}: {m.group(0)}" for p in sources
                 if not p.endswith(os.path.join("data", "prepared.py"))
                 for m in quoted.finditer(open(p, encoding="utf-8").read())]
    assert not offenders


def test_the_handle_reads_what_prepare_wrote(prepared_demo):
    folder = PreparedFolder(prepared_demo)
    manifest = folder.manifest()
    assert folder.playlist_files() == tuple(manifest["playlist_files"]) == ("train.json",)
    assert folder.genre_level() == manifest["flags"]["genre_level"]
    assert folder.genre_word2vec().shape == (manifest["genre_vocab_size"] + 1, TINY_PREPARE["word2vec_dim"])
    assert len(folder.shard_files("train")) == len(manifest["shards"]["train"])
    assert folder.verify(checksums=True) == sum(len(v) for v in manifest["shards"].values())
    assert set(manifest["cf_sha256"]) == {"song_vectors", "playlist_vectors"}


def test_playlist_files_without_a_manifest_or_its_entry(tmp_path):
    assert PreparedFolder(str(tmp_path)).playlist_files() == melon.PLAYLIST_CHOICES["train"]
    (tmp_path / "manifest.json").write_text(json.dumps({"format_version": 1}))
    assert PreparedFolder(str(tmp_path)).playlist_files() == melon.PLAYLIST_FILES
    with pytest.raises(NotPreparedError, match="python -m cmir_tf prepare"):
        PreparedFolder(str(tmp_path / "none")).manifest()


def test_a_truncated_or_altered_shard_is_refused_naming_it_and_the_repair(prepared_demo, tmp_path):
    folder = _copy(prepared_demo, tmp_path)
    shard = folder.shard_files("validation")[0]
    flip_a_byte(shard)
    folder.verify()  # sizes only: an altered byte passes
    with pytest.raises(DamagedFolderError) as altered:
        folder.verify(checksums=True)
    assert f"shard {shard} does not match the sha256" in str(altered.value)
    assert "--verify_data" in str(altered.value) and "\n" not in str(altered.value)
    with open(shard, "r+b") as f:
        f.truncate(os.path.getsize(shard) // 2)
    with pytest.raises(DamagedFolderError) as truncated:
        PreparedFolder(folder.path).verify()
    message = str(truncated.value)
    assert f"shard {shard} is {os.path.getsize(shard)} bytes" in message
    assert f"python -m cmir_tf prepare --melon_dir={folder.manifest()['melon_dir']} " in message
    assert f"--output_dir={folder.path}" in message and "--frames=600" in message


def test_a_prepare_rerun_rewrites_damaged_shards(demo_corpus, prepared_demo, tmp_path, caplog):
    folder = _copy(prepared_demo, tmp_path)
    reference = folder.manifest()
    truncated, altered = folder.shard_files("train")[:2]
    with open(truncated, "r+b") as f:
        f.truncate(100)
    flip_a_byte(altered)
    with caplog.at_level("INFO"):
        assert prepare.prepare(_config(demo_corpus, folder.path)) == reference
    total = sum(len(v) for v in reference["shards"].values())
    assert f"{total} shards, 1 to write (1 damaged)" in caplog.text  # sizes: the truncated one
    with pytest.raises(DamagedFolderError, match=re.escape(altered)):
        PreparedFolder(folder.path).verify(checksums=True)
    assert prepare.prepare(_config(demo_corpus, folder.path, verify_data=True)) == reference
    PreparedFolder(folder.path).verify(checksums=True)


def test_prepare_counts_every_skipped_song_in_its_stage_lines(demo_corpus, prepared_demo, tmp_path, caplog):
    folder = _copy(prepared_demo, tmp_path)
    with open(folder.report_path) as f:
        dropped = json.load(f)["dropped_before_split"]
    with caplog.at_level("INFO"):
        prepare.prepare(_config(demo_corpus, folder.path))
    line = next(r.getMessage() for r in caplog.records if r.getMessage().startswith("songs: "))
    assert dropped["no_genres"] > 0 and f"no_genres {dropped['no_genres']}" in line
    assert "skipped mels: " in caplog.text


def test_too_little_free_space_is_refused_before_writing(demo_corpus, prepared_demo, tmp_path, monkeypatch):
    folder = _copy(prepared_demo, tmp_path)
    missing = folder.shard_files("test")[0]
    os.remove(missing)
    usage = shutil.disk_usage(folder.path)
    monkeypatch.setattr(shard_stage.shutil, "disk_usage", lambda path: usage._replace(free=1000))
    with pytest.raises(prepare.InsufficientSpaceError) as error:
        prepare.prepare(_config(demo_corpus, folder.path))
    needed = 10 * prepare.bytes_per_song(600)  # one shard of 10 songs
    assert f"has 1 kB free but the shards to write need about {shard_stage.size_text(needed)}" in str(error.value)
    assert not os.path.exists(missing) and not folder.scratch_files()


def test_a_full_disk_while_writing_a_shard_leaves_nothing_half_written(demo_corpus, prepared_demo, tmp_path,
                                                                       monkeypatch):
    folder = _copy(prepared_demo, tmp_path)
    missing = folder.shard_files("train")[3]
    os.remove(missing)
    os.remove(folder.shard_stats_path(os.path.basename(missing)))

    class FullAfterOneRecord(tf.io.TFRecordWriter):
        def write(self, record):
            super().write(record)
            raise tf.errors.ResourceExhaustedError(None, None, "No space left on device")

    monkeypatch.setattr(shards.tf.io, "TFRecordWriter", FullAfterOneRecord)
    with pytest.raises(OSError) as error:
        prepare.prepare(_config(demo_corpus, folder.path))
    assert error.value.errno == errno.ENOSPC
    assert str(error.value) == f"cannot write {missing}: No space left on device"
    assert not os.path.exists(missing) and not folder.scratch_files()
    assert not os.path.exists(folder.shard_stats_path(os.path.basename(missing)))


def test_a_read_only_output_folder_is_one_line_exit_1(demo_corpus, read_only, capsys):
    out = str(read_only / "prepared")
    assert run_command("prepare", f"--melon_dir={os.path.join(demo_corpus, 'melon')}", f"--output_dir={out}") == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == f"cmir-prepare: error: cannot write {out}: Read-only file system"
    assert "Traceback" not in err


def test_one_prepare_per_folder_and_a_killed_holder_leaves_no_lock(demo_corpus, tmp_path):
    out = str(tmp_path / "prepared")
    holder = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "hold_lock.py"), out], env=ENV,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(DirectoryLockedError, match=rf"{re.escape(out)} is in use by another prepare "
                                                       rf"\(pid {holder.pid}\)"):
            prepare.prepare(_config(demo_corpus, out))
        assert not os.path.exists(os.path.join(out, "cache"))
    finally:
        holder.kill()
        holder.wait()
    with exclusive_lock(out, "prepare"):  # SIGKILL released it
        with pytest.raises(DirectoryLockedError, match=f"pid {os.getpid()}"):
            with exclusive_lock(out, "prepare"):
                pass


def test_a_prepare_killed_inside_the_lightfm_fit_resumes_there_to_the_same_vectors(demo_corpus, prepared_demo,
                                                                                    tmp_path, caplog):
    """Killed (SIGKILL) right after the checkpoint of epoch 25 of 50, on one thread; the rerun resumes at
    epoch 26 and ends with the uninterrupted run's manifest, whose CF and shard checksums cover the vectors."""
    out = str(tmp_path / "killed")
    flags = [f"--{k}={v}" for k, v in TINY_PREPARE.items()]
    killer = [sys.executable, os.path.join(ROOT, "tests", "kill_after_cf_checkpoint.py"), "25",
              f"--melon_dir={os.path.join(demo_corpus, 'melon')}", f"--output_dir={out}", *flags]
    assert subprocess.run(killer, env=ENV, stderr=subprocess.DEVNULL).returncode == -signal.SIGKILL
    folder = PreparedFolder(out)
    assert os.path.exists(folder.cf_model_path) and not os.path.exists(folder.cf_song_ids_path)
    with caplog.at_level("INFO"):
        manifest = prepare.prepare(_config(demo_corpus, out))
    assert "resumed from" in caplog.text and "after epoch 25/50" in caplog.text
    assert manifest == PreparedFolder(prepared_demo).manifest()
    assert not os.path.exists(folder.cf_model_path)
