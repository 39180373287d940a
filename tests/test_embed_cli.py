"""`cmir-embed`: layout, batching across files, bad files, resumption, agreement with `embed_waveform`,
file modes, leftovers of killed writes, symlinked folders, non-cmir SavedModels."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf

from cmir_tf.audio import load_audio
from cmir_tf.export.embed_cli import embed_files, find_inputs
from cmir_tf.export.exported import ExportedModel, NotACmirModelError


@pytest.fixture
def model_dir(audio_export):
    return audio_export


def _tone(seconds: float, rate: int = 16000, hz: float = 300.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


@pytest.fixture
def music(tmp_path):
    """A folder of good and bad inputs: returns (folder, names of the good files relative to it)."""
    root = tmp_path / "music"
    (root / "rock").mkdir(parents=True)
    sf.write(root / "rock" / "long.wav", _tone(9.0), 16000)  # 3 chunks
    sf.write(root / "rock" / "stereo44k.flac", np.stack([_tone(2.0, 44100), _tone(2.0, 44100, 500)], 1), 44100)
    sf.write(root / "short.wav", _tone(0.2, 11025), 11025, subtype="PCM_U8")  # shorter than one chunk
    sf.write(root / "silence.wav", np.zeros(16000, np.float32), 16000)
    (root / "empty.wav").write_bytes(b"")
    (root / "broken.mp3").write_bytes(b"not an mp3" * 50)
    (root / "notes.txt").write_text("not audio, not an input")
    good = ["rock/long.wav", "rock/stereo44k.flac", "short.wav", "silence.wav"]
    return root, good


def test_find_inputs_mirrors_folders_and_rejects_clashes(music, tmp_path):
    root, good = music
    inputs = find_inputs([str(root), str(root / "short.wav")])
    names = [name for _, name in inputs.files]
    assert sorted(names) == sorted([f"music/{g}.npz" for g in good] + ["music/empty.wav.npz",
                                    "music/broken.mp3.npz", "short.wav.npz"])
    with pytest.raises(ValueError, match="same outputs"):
        find_inputs([str(root / "short.wav"), str(root / "short.wav")])
    with pytest.raises(ValueError, match="no such file"):
        find_inputs([str(tmp_path / "missing")])


def test_embeds_batches_across_files_skips_bad_and_resumes(model_dir, music, tmp_path):
    root, good = music
    model = ExportedModel(model_dir)
    embed_mel = model.chunk_embedder("embedding")
    batch_sizes = []

    def recording_embed_mel(mel):
        batch_sizes.append(len(mel))
        return embed_mel(mel)

    out = str(tmp_path / "out")
    inputs = find_inputs([str(root)]).files
    summary = embed_files(inputs, out, recording_embed_mel, "embedding", "full", batch_size=4)
    assert summary.written == 4 and summary.skipped_existing == 0
    assert sorted(os.path.basename(f) for f, _ in summary.failed) == ["broken.mp3", "empty.wav"]
    assert batch_sizes == [4, 2]  # 3 + 1 + 1 + 1 chunks of 4 files: full batches across files, then the rest

    loaded = tf.saved_model.load(model_dir)
    for name in good:
        result = np.load(os.path.join(out, "music", name + ".npz"))
        assert set(result.files) == {"chunks", "mean", "timestamps_ms", "output"}
        expected = loaded.signatures["embed_waveform"](waveform=load_audio(str(root / name)))["embedding"].numpy()
        np.testing.assert_allclose(result["chunks"], expected, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(result["mean"], expected.mean(axis=0), rtol=1e-5, atol=1e-5)
        assert result["timestamps_ms"].shape == (len(expected),) and str(result["output"]) == "embedding"
        assert 0 < result["timestamps_ms"][-1] < 1000 * sf.info(str(root / name)).duration + 16
        assert np.isfinite(result["chunks"]).all()
    assert np.load(os.path.join(out, "music", "rock", "long.wav.npz"))["chunks"].shape == (3, 128)
    assert not [f for _, _, files in os.walk(out) for f in files if f.startswith(".")]

    mtime = os.path.getmtime(os.path.join(out, "music", "silence.wav.npz"))
    batch_sizes.clear()
    again = embed_files(inputs, out, recording_embed_mel, "embedding", "full", batch_size=4)
    assert again.written == 0 and again.skipped_existing == 4 and len(again.failed) == 2
    assert batch_sizes == [] and os.path.getmtime(os.path.join(out, "music", "silence.wav.npz")) == mtime


def test_command_line_exit_status(model_dir, music, tmp_path):
    root, _ = music
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "cmir_tf.export.embed_cli", f"--model={model_dir}", "--segment=center29.1",
               f"--output_dir={tmp_path / 'out'}", str(root / "rock"), str(root / "empty.wav")]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert "2 written, 0 already present, 1 failed" in result.stderr and "empty.wav" in result.stderr
    assert np.load(tmp_path / "out" / "rock" / "long.wav.npz")["chunks"].shape == (3, 1024)


def test_a_model_with_another_front_end_is_refused(tmp_path):
    (tmp_path / "model" / "assets").mkdir(parents=True)
    (tmp_path / "model" / "assets" / "cmir_tf.json").write_text(json.dumps({"front_end": {"n_mels": 96}}))
    (tmp_path / "model" / "saved_model.pb").write_bytes(b"")
    with pytest.raises(ValueError, match="another front end"):
        ExportedModel(str(tmp_path / "model"))


def test_outputs_get_the_umask_mode_and_a_killed_write_leaves_nothing_behind(model_dir, music, tmp_path):
    root, _ = music
    out = tmp_path / "out"
    inputs = find_inputs([str(root / "short.wav"), str(root / "silence.wav")]).files
    stale = out / ".short.wav.npz.partial"  # what a write killed inside np.savez leaves
    out.mkdir()
    stale.write_bytes(b"half an npz")
    model = ExportedModel(model_dir)
    embed_mel = model.chunk_embedder("embedding")
    old = os.umask(0o027)
    try:
        assert embed_files(inputs, str(out), embed_mel, "embedding", "full", batch_size=4).written == 2
    finally:
        os.umask(old)
    assert sorted(os.listdir(out)) == ["short.wav.npz", "silence.wav.npz"]  # the stale temporary was reused
    assert {os.stat(out / f).st_mode & 0o777 for f in os.listdir(out)} == {0o640}


def test_symlinked_folders_are_followed_and_loops_counted(music, tmp_path):
    root, good = music
    os.symlink(root / "rock", root / "linked")  # a second path to rock/
    os.symlink(root, root / "rock" / "loop")  # back to the top
    inputs = find_inputs([str(root)])
    names = [name for _, name in inputs.files]
    assert "music/linked/long.wav.npz" in names and "music/rock/long.wav.npz" not in names  # walked once
    assert sorted(os.path.basename(p) for p in inputs.skipped_folders) == ["loop", "rock"]


@pytest.mark.parametrize("make", ["empty_folder", "other_saved_model"])
def test_a_folder_that_is_not_a_cmir_saved_model_is_a_usage_error(make, tmp_path, music):
    model = tmp_path / "model"
    if make == "other_saved_model":
        module = tf.Module()
        module.scale = tf.Variable(2.0)
        tf.saved_model.save(module, str(model))
    else:
        model.mkdir()
    with pytest.raises(NotACmirModelError, match="SavedModel"):
        ExportedModel(str(model))
    if make == "empty_folder":
        return
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "cmir_tf.export.embed_cli", f"--model={model}", f"--output_dir={tmp_path}/o",
               str(music[0] / "short.wav")]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"cmir-embed: error: {model}")
