"""`cmir-embed`: layout, batching across files, bad files, resumption only of its own outputs, agreement with
`embed_waveform`, file modes, leftovers of killed writes, symlinked folders, non-cmir SavedModels, overlapping
inputs, short files, centred segments."""

import importlib
import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf
from absl import flags
from cli_helpers import cli_flags

from cmir_tf import errors
from cmir_tf.audio import load_audio
from cmir_tf.audio.files import find_inputs
from cmir_tf.cli import runner
from cmir_tf.export.embed_files import EmbedConfig, MixedOutputsError, embed_files
from cmir_tf.export.exported import ExportedModel, NotACmirModelError

embed_command = importlib.import_module("cmir_tf.cli.embed")


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


def embed(*argv: str) -> int:
    """`cmir-embed ARGV` in this process, through the runner (one error line, exit status)."""
    with cli_flags(embed_command.define_flags):
        try:
            return runner.call_main(embed_command.main, "cmir-embed", flags.FLAGS(["cmir-embed", *argv]))
        except SystemExit as stop:
            return stop.code


def config(model_dir, inputs, out, **kwargs) -> EmbedConfig:
    return EmbedConfig(model=model_dir, inputs=tuple(str(i) for i in inputs), output_dir=str(out), **kwargs)


@pytest.fixture
def batch_sizes(monkeypatch):
    """The sizes of the model calls `embed_files` makes (its `chunk_embedder` recorded)."""
    sizes = []
    original = ExportedModel.chunk_embedder

    def recorded(self, output):
        embed_chunks = original(self, output)
        return lambda mel: sizes.append(len(mel)) or embed_chunks(mel)

    monkeypatch.setattr(ExportedModel, "chunk_embedder", recorded)
    return sizes


def test_find_inputs_mirrors_folders_counts_skips_by_extension_and_takes_a_file_once(music, tmp_path):
    root, good = music
    (root / "cover.JPG").write_bytes(b"jpeg")
    inputs = find_inputs([str(root), str(root / "short.wav")])  # short.wav is inside root too: taken once
    names = [name for _, name in inputs.files]
    assert sorted(names) == sorted([f"music/{g}.npz" for g in good] + ["music/empty.wav.npz", "music/broken.mp3.npz"])
    assert inputs.duplicates == [str(root / "short.wav")]
    assert inputs.skipped_line() == "2 files skipped for their extension (.jpg 1, .txt 1)"
    first_file = find_inputs([str(root / "short.wav"), str(root)])  # the first mention names the output
    assert [n for _, n in first_file.files].count("short.wav.npz") == 1 and "music/short.wav.npz" not in \
        [n for _, n in first_file.files]
    (tmp_path / "other").mkdir()
    sf.write(tmp_path / "other" / "short.wav", _tone(0.5), 16000)
    with pytest.raises(ValueError, match="same outputs"):
        find_inputs([str(root / "short.wav"), str(tmp_path / "other" / "short.wav")])
    with pytest.raises(errors.MissingPathError, match="no such file"):
        find_inputs([str(tmp_path / "missing")])


def test_embeds_batches_across_files_skips_bad_and_resumes(model_dir, music, tmp_path, batch_sizes, caplog):
    root, good = music
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING):
        summary = embed_files(config(model_dir, [root], out, embedding="embedding", batch_size=4))
    assert summary.written == 4 and summary.skipped_existing == 0
    assert sorted(os.path.basename(f) for f, _ in summary.failed) == ["broken.mp3", "empty.wav"]
    assert batch_sizes == [4, 2]  # 3 + 1 + 1 + 1 chunks of 4 files: full batches across files, then the rest
    assert summary.short == 3  # stereo44k (2 s), short (0.2 s), silence (1 s): tiled, warned, counted
    assert "3 shorter than one chunk (tiled)" in summary.line()
    assert sum("shorter than one chunk" in r.getMessage() for r in caplog.records) == 3

    loaded = tf.saved_model.load(model_dir)
    fingerprint = ExportedModel(model_dir).fingerprint
    for name in good:
        result = np.load(out / "music" / (name + ".npz"))
        assert set(result.files) == {"chunks", "mean", "timestamps_ms", "output", "model", "decoder", "segment"}
        expected = loaded.signatures["embed_waveform"](waveform=load_audio(str(root / name)))["embedding"].numpy()
        # cmir-embed's log-mel is scipy's, the signature's TensorFlow's: these pure tones' far bands, 190 dB down,
        # are both FFTs' rounding noise (cmir_tf.audio.mel_numpy), so the vectors agree to 1e-3, not 1e-5
        np.testing.assert_allclose(result["chunks"], expected, rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(result["mean"], expected.mean(axis=0), rtol=1e-5, atol=1e-3)
        assert result["timestamps_ms"].shape == (len(expected),) and str(result["output"]) == "embedding"
        assert str(result["model"]) == fingerprint and str(result["decoder"]).startswith("libsndfile:")
        assert 0 < result["timestamps_ms"][-1] < 1000 * sf.info(str(root / name)).duration + 16
        assert np.isfinite(result["chunks"]).all()
    assert np.load(out / "music" / "rock" / "long.wav.npz")["chunks"].shape == (3, 128)
    assert not [f for _, _, files in os.walk(out) for f in files if f.startswith(".")]

    mtime = os.path.getmtime(out / "music" / "silence.wav.npz")
    batch_sizes.clear()
    again = embed_files(config(model_dir, [root], out, embedding="embedding", batch_size=4))
    assert again.written == 0 and again.skipped_existing == 4 and len(again.failed) == 2
    assert batch_sizes == [] and os.path.getmtime(out / "music" / "silence.wav.npz") == mtime


def test_a_rerun_resumes_only_its_own_outputs_and_refuses_a_mixed_folder(model_dir, music, tmp_path, capsys):
    root, _ = music
    out = tmp_path / "out"
    assert embed(f"--model={model_dir}", f"--output_dir={out}", "--embedding=embedding", str(root / "rock")) == 0
    capsys.readouterr()
    assert embed(f"--model={model_dir}", f"--output_dir={out}", "--embedding=features", str(root / "rock")) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("cmir-embed: error: ") and "2 .npz files of another model or --embedding" in line
    assert "--overwrite" in line
    with pytest.raises(MixedOutputsError):  # an output of an older cmir-embed, which records no model
        np.savez(out / "rock" / "old.wav.npz", chunks=np.zeros((1, 128)), output=np.array("embedding"))
        embed_files(config(model_dir, [root / "rock"], out, embedding="embedding"))
    os.remove(out / "rock" / "old.wav.npz")
    assert embed(f"--model={model_dir}", f"--output_dir={out}", "--embedding=features", "--overwrite",
                 str(root / "rock")) == 0
    assert "2 written, 0 already present" in capsys.readouterr().err
    assert np.load(out / "rock" / "long.wav.npz")["chunks"].shape == (3, 1024)


def test_command_line_exit_status(model_dir, music, tmp_path):
    root, _ = music
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "-m", "cmir_tf", "embed", f"--model={model_dir}", "--segment=center29.1",
               f"--output_dir={tmp_path / 'out'}", str(root / "rock"), str(root / "empty.wav")]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stderr
    assert "2 written, 0 already present, 1 failed" in result.stderr and "empty.wav" in result.stderr
    assert np.load(tmp_path / "out" / "rock" / "long.wav.npz")["chunks"].shape == (3, 1024)


def test_centred_segment_timestamps_count_from_the_start_of_the_file(model_dir, tmp_path):
    sf.write(tmp_path / "long.wav", _tone(40.0), 16000)
    summary = embed_files(config(model_dir, [tmp_path / "long.wav"], tmp_path / "out", segment="center29.1"))
    assert summary.written == 1
    result = np.load(tmp_path / "out" / "long.wav.npz")
    start_ms = 1000 * (40.0 - 29.1) / 2  # the segment starts 5.45 s into the file
    assert str(result["segment"]) == "center29.1" and len(result["chunks"]) == 8  # ceil(1820 frames / 256)
    assert result["timestamps_ms"][0] == pytest.approx(start_ms + 127.5 * 16, abs=0.1)
    assert result["timestamps_ms"][-1] < 1000 * 40.0 - start_ms + 16


def test_a_model_with_another_front_end_is_refused(tmp_path):
    (tmp_path / "model" / "assets").mkdir(parents=True)
    (tmp_path / "model" / "assets" / "cmir_tf.json").write_text(json.dumps({"front_end": {"n_mels": 96}}))
    (tmp_path / "model" / "saved_model.pb").write_bytes(b"")
    with pytest.raises(ValueError, match="another front end"):
        ExportedModel(str(tmp_path / "model"))


def test_outputs_get_the_umask_mode_and_a_killed_write_leaves_nothing_behind(model_dir, music, tmp_path):
    root, _ = music
    out = tmp_path / "out"
    stale = out / ".short.wav.npz.partial"  # what a write killed inside np.savez leaves
    out.mkdir()
    stale.write_bytes(b"half an npz")
    old = os.umask(0o027)
    try:
        assert embed_files(config(model_dir, [root / "short.wav", root / "silence.wav"], out)).written == 2
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
def test_a_folder_that_is_not_a_cmir_saved_model_is_a_usage_error(make, tmp_path, music, capsys):
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
    assert embed(f"--model={model}", f"--output_dir={tmp_path}/o", str(music[0] / "short.wav")) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith(f"cmir-embed: error: {model}")
