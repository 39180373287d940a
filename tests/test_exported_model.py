"""The exported-model handle and its consumers: one check of the front end for every path, one SavedModel load
per evaluate run, float32 exports of a mixed_bfloat16 model, indexes keyed by the model's content, one-line
CLI errors, export scratch cleanup and the re-export's training record.

One tiny contr_cf_g model, built under mixed_bfloat16, is exported once for the module; the CLIs run
in-process (`main` with argv, their absl flags defined for the test and removed after it).
"""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf
from tensorflow.core.framework import types_pb2

from cmir_tf import hear
from cmir_tf.audio import FRONT_END_PARAMS, FrontEndMismatchError, recipe
from cmir_tf.evaluation import protocol
from cmir_tf.export import export_audio_encoder, litert, load_keras_encoder
from cmir_tf.export.exported import ExportedModel, NotACmirModelError
from cmir_tf.export.genre_vocabulary import GenreVocabulary
from cmir_tf.export.saved_model import AudioEncoderModule
from cmir_tf.joint import JointSpace
from cmir_tf.models import build_audio_encoder, build_variant

from cli_helpers import run_command

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCABULARY = GenreVocabulary(("GN0100", "GN0200", "GN0300"), ("Ballad", "Rock", "Jazz"))
SIXTEEN_BIT_FLOATS = {types_pb2.DT_BFLOAT16, types_pb2.DT_HALF}


@pytest.fixture(scope="module")
def bf16_model(tmp_path_factory):
    """(the mixed_bfloat16 contr_cf_g CrossModalModel, its export folder)."""
    keras.utils.set_random_seed(1)
    word2vec = np.random.default_rng(1).normal(size=(4, 16)).astype(np.float32)
    word2vec[0] = 0  # the padding row
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = build_variant("contr_cf_g", word2vec)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    path = export_audio_encoder(model.audio_encoder, str(tmp_path_factory.mktemp("bf16") / "model"),
                                {"variant": "contr_cf_g", "train_split_fingerprint": "abc"},
                                genre_encoder=model.genre_encoder, cf_encoder=model.cf_encoder, vocabulary=VOCABULARY)
    return model, path


@pytest.fixture(scope="module")
def old_recipe(bf16_model, tmp_path_factory):
    """A copy of the export whose asset records another front end (version 1)."""
    path = str(tmp_path_factory.mktemp("old") / "model")
    shutil.copytree(bf16_model[1], path)
    asset = os.path.join(path, "assets", "cmir_tf.json")
    with open(asset) as f:
        content = json.load(f)
    content["front_end"] = {**FRONT_END_PARAMS, "version": 1}
    with open(asset, "w") as f:
        json.dump(content, f)
    return path


@pytest.fixture(scope="module")
def music(tmp_path_factory):
    """Two tones, a file that is not audio, and two files of other extensions."""
    folder = tmp_path_factory.mktemp("music")
    t = np.arange(24000) / 16000
    for i, pitch in enumerate((220, 880)):
        sf.write(folder / f"song{i}.wav", (0.3 * np.sin(2 * np.pi * pitch * t)).astype(np.float32), 16000)
    (folder / "broken.wav").write_bytes(b"not audio")
    (folder / "notes.txt").write_text("liner notes")
    (folder / "tune.xm").write_bytes(b"Extended Module: ")
    return folder


def search(*argv: str) -> int:
    return run_command("search", *argv)


def embed(*argv: str) -> int:
    return run_command("embed", *argv)


def evaluate(*argv: str) -> int:
    return run_command("evaluate", *argv)


def one_line_error(capsys) -> str:
    """The error line ending the captured stderr, asserted to be the only error line and no traceback
    (progress bars may come before it)."""
    err = capsys.readouterr().err.strip()
    lines = err.splitlines()
    assert "Traceback" not in err and sum(": error: " in line for line in lines) == 1, err
    assert ": error: " in lines[-1], err
    return lines[-1]


# --- one handle, one front-end check for every consumer ---


def test_the_handle_answers_what_the_model_can_do(bf16_model):
    model = ExportedModel(bf16_model[1])
    assert model.variant == "contr_cf_g" and model.modalities == ("cf", "genre")
    assert {"embed_mel", "embed_waveform", "embed_genres", "embed_cf"} <= set(model.signature_names)
    assert model.train_split_fingerprint == "abc" and model.front_end_version == FRONT_END_PARAMS["version"]
    assert model.training_precision == "mixed_bfloat16" and model.asset["dtype_policy"] == "float32"
    assert model.output_dim("features") == 1024 and model.output_dim("embedding") == 128
    assert model.fingerprint.startswith("sha256:") and len(model.fingerprint) == 71


def test_another_front_end_is_refused_by_every_consumer(old_recipe, bf16_model, music, tmp_path, capsys):
    song = str(music / "song0.wav")
    for open_model in (ExportedModel, JointSpace, hear.load_model):
        with pytest.raises(FrontEndMismatchError, match="another front end"):
            open_model(old_recipe)
    index_dir = str(tmp_path / "idx")
    assert search("index", str(music), f"--model={bf16_model[1]}", f"--index={index_dir}", "--n_trees=2") == 1
    capsys.readouterr()
    refusals = {
        "cmir-search tags": lambda: search("tags", song, f"--model={old_recipe}"),
        "cmir-search index": lambda: search("index", str(music), f"--model={old_recipe}",
                                            f"--index={tmp_path / 'other'}"),
        "cmir-search similar": lambda: search("similar", song, f"--index={index_dir}", f"--model={old_recipe}"),
        "cmir-embed": lambda: embed(f"--model={old_recipe}", f"--output_dir={tmp_path / 'out'}", song),
        "evaluate": lambda: evaluate(f"--model={old_recipe}", "--name=x", "--task=gtzan", f"--gtzan_dir={music}"),
    }
    for name, refuse in refusals.items():
        assert refuse() == 2, name
        message = one_line_error(capsys)
        assert "another front end" in message and "python -m cmir_tf export --checkpoint=" in message, name
    assert not os.path.exists(tmp_path / "out") and not os.path.exists(tmp_path / "other")


def test_a_folder_without_the_asset_is_not_a_cmir_model(bf16_model, tmp_path):
    shutil.copytree(bf16_model[1], tmp_path / "bare")
    os.remove(tmp_path / "bare" / "assets" / "cmir_tf.json")
    with pytest.raises(NotACmirModelError, match="no assets/cmir_tf.json"):
        ExportedModel(str(tmp_path / "bare"))


def test_evaluate_loads_the_saved_model_once_and_skips_cold_start_by_name(bf16_model, eval_corpus, monkeypatch,
                                                                           capsys, tmp_path):
    loads = []
    load = tf.saved_model.load
    monkeypatch.setattr(tf.saved_model, "load", lambda *args, **kwargs: loads.append(args) or load(*args, **kwargs))
    status = evaluate(f"--model={bf16_model[1]}", "--name=once", "--task=playlist", "--exact", "--noembedding_map",
                      f"--melon_dir={eval_corpus / 'demo/melon'}", f"--data_dir={eval_corpus / 'prepared'}",
                      f"--results_dir={tmp_path}", "--cache_dir=", "--embedding=embedding")
    assert status == 0 and len(loads) == 1  # the model, the joint space and both embedders share one load
    playlist = json.loads((tmp_path / "playlist.json").read_text())["once"]
    assert "cf_playlist_vectors" in playlist["cold_start"]["skipped_reason"]  # its own error type, a named skip
    assert playlist["model_fingerprint"] == ExportedModel(bf16_model[1]).fingerprint


def test_evaluate_names_missing_dataset_files_in_one_line(bf16_model, eval_corpus, tmp_path, capsys):
    gtzan = tmp_path / "gtzan"
    shutil.copytree(eval_corpus / "demo" / "gtzan", gtzan)
    for name in ("blues.00000.wav", "blues.00001.wav", "blues.00003.wav"):
        os.remove(gtzan / "genres" / "blues" / name)
    status = evaluate(f"--model={bf16_model[1]}", "--name=x", "--task=gtzan", f"--gtzan_dir={gtzan}",
                      f"--gtzan_splits_dir={eval_corpus / 'gtzan_lists'}", "--cache_dir=", f"--results_dir={tmp_path}")
    assert status == 1
    message = one_line_error(capsys)
    assert "missing" in message and "blues.0000" in message and "--allow_missing" in message
    assert any(f"{n} of " in message for n in (1, 2, 3))  # the count of the split that failed first


# --- float32 exports ---


def _sixteen_bit_nodes(graph_def) -> list[str]:
    """Names of the nodes of `graph_def` (and of its function library) with a bf16/fp16 attribute."""
    nodes = list(graph_def.node) + [n for f in graph_def.library.function for n in f.node_def]
    return [node.name for node in nodes for value in node.attr.values()
            if value.type in SIXTEEN_BIT_FLOATS or SIXTEEN_BIT_FLOATS & set(value.list.type)]


def test_a_mixed_bfloat16_model_exports_a_float32_graph(bf16_model):
    model, path = bf16_model
    unconverted = AudioEncoderModule(model.audio_encoder)
    traced = unconverted.embed_mel.get_concrete_function()
    assert _sixteen_bit_nodes(traced.graph.as_graph_def())  # the check finds bf16 in an unconverted graph
    loaded = tf.saved_model.load(path)
    for name, signature in loaded.signatures.items():
        assert not _sixteen_bit_nodes(signature.graph.as_graph_def()), name
    reference = build_audio_encoder()  # float32 Keras encoder with the trained weights
    reference.set_weights(model.audio_encoder.get_weights())
    mel = np.random.default_rng(2).normal(-60.0, 20.0, (2, 256, 48)).astype(np.float32)
    expected = reference(mel, training=False)
    out = loaded.signatures["embed_mel"](mel=tf.constant(mel))
    for output in ("features", "embedding"):
        assert out[output].dtype == tf.float32
        np.testing.assert_allclose(out[output].numpy(), expected[output].numpy(), atol=1e-3, rtol=1e-3)
    keras_file = load_keras_encoder(path)
    assert {layer.dtype_policy.name for layer in keras_file.layers} == {"float32"}
    np.testing.assert_allclose(keras_file(mel, training=False)["embedding"].numpy(), expected["embedding"].numpy(),
                               atol=1e-3, rtol=1e-3)


def test_the_float32_export_runs_under_an_avx2_cap_and_as_litert(bf16_model, tmp_path):
    script = textwrap.dedent("""
        import sys
        import numpy as np
        from cmir_tf.export.exported import ExportedModel
        model = ExportedModel(sys.argv[1])
        wave = (0.3 * np.sin(np.arange(16000) / 10)).astype(np.float32)
        out = model.signatures["embed_waveform"](waveform=wave)["mean_embedding"].numpy()
        print("ok", out.shape, bool(np.isfinite(out).all()))
    """)
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2", "TF_ENABLE_ONEDNN_OPTS": "1", "PYTHONPATH": ROOT}
    result = subprocess.run([sys.executable, "-c", script, bf16_model[1]], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and "ok (128,) True" in result.stdout, result.stderr[-2000:]
    tflite = str(tmp_path / "model.tflite")
    litert.convert_to_litert(bf16_model[1], tflite)
    interpreter = litert.load_interpreter(tflite)
    assert {d["dtype"] for d in interpreter.get_tensor_details()}.isdisjoint({np.float16, tf.bfloat16.as_numpy_dtype})
    mel = np.random.default_rng(3).normal(-60.0, 20.0, (1, 256, 48)).astype(np.float32)
    on_device = interpreter.get_signature_runner("embed_mel")(mel=mel)["embedding"]
    expected = ExportedModel(bf16_model[1]).chunk_embedder("embedding")(mel)
    np.testing.assert_allclose(on_device, expected, atol=1e-3, rtol=1e-3)


# --- indexes keyed by the model's content; one-line errors of cmir-search ---


def test_a_moved_or_copied_model_queries_its_index_and_another_model_is_refused(bf16_model, music, tmp_path, capsys):
    built_with = str(tmp_path / "first")
    shutil.copytree(bf16_model[1], built_with)
    index_dir = str(tmp_path / "idx")
    assert search("index", str(music), f"--model={built_with}", f"--index={index_dir}", "--n_trees=2") == 1
    line = capsys.readouterr().err
    assert "indexed 2 of 3 files" in line and "2 files skipped (not an audio extension)" in line
    copied = str(tmp_path / "copied")
    shutil.copytree(built_with, copied)
    moved = str(tmp_path / "moved")
    os.rename(built_with, moved)
    song = str(music / "song0.wav")
    for model in (copied, moved):
        assert search("similar", song, f"--index={index_dir}", f"--model={model}", "--top_k=1") == 0
        found = capsys.readouterr().out.strip().splitlines()
        assert len(found) == 1 and found[0].endswith("song1.wav")  # the query itself is excluded
    assert search("similar", song, f"--index={index_dir}") == 2  # the recorded folder is gone
    assert "pass --model=DIR" in one_line_error(capsys)
    other = export_audio_encoder(build_audio_encoder(), str(tmp_path / "other"))
    assert search("similar", song, f"--index={index_dir}", f"--model={other}") == 2
    assert "another model" in one_line_error(capsys)
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.full(16000, np.nan, np.float32), 16000, subtype="FLOAT")
    for query in (str(nan), str(music / "broken.wav")):
        assert search("similar", query, f"--index={index_dir}", f"--model={moved}") == 1
        assert query in one_line_error(capsys)


# --- cmir-embed: output errors, counted skips ---


def test_cmir_embed_output_errors_are_one_line_and_leave_nothing_half_written(bf16_model, music, tmp_path, capsys,
                                                                                monkeypatch):
    (tmp_path / "a_file").write_text("")
    blocked = tmp_path / "a_file" / "out"  # a path below a regular file cannot be created
    assert embed(f"--model={bf16_model[1]}", f"--output_dir={blocked}", str(music)) == 1
    assert str(blocked) in one_line_error(capsys)
    out = tmp_path / "out"
    save = np.savez
    calls = []

    def full_disk(f, **arrays):
        calls.append(1)
        if len(calls) == 2:
            f.write(b"half")
            raise OSError(errno.ENOSPC, "No space left on device")
        save(f, **arrays)

    monkeypatch.setattr(np, "savez", full_disk)
    assert embed(f"--model={bf16_model[1]}", f"--output_dir={out}", str(music)) == 1
    message = one_line_error(capsys)
    assert "No space left on device" in message and str(out) in message  # errors.describe_os_error
    assert sorted(os.listdir(out / music.name)) == ["song0.wav.npz"]  # whole, and no temporary file left
    monkeypatch.setattr(np, "savez", save)
    assert embed(f"--model={bf16_model[1]}", f"--output_dir={out}", str(music)) == 1  # resumes; broken.wav fails
    err = capsys.readouterr().err
    assert "1 written, 1 already present, 1 failed, of 3 inputs" in err
    assert "2 files skipped for their extension (.txt 1, .xm 1)" in err


# --- export scratch and re-export ---


def test_a_killed_exports_scratch_folder_is_removed_by_the_next_export(tmp_path):
    script = textwrap.dedent("""
        import os, signal, sys
        import cmir_tf.export.saved_model as saved_model
        from cmir_tf.models import build_audio_encoder

        def killed(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)

        saved_model.save_keras_encoder = killed  # dies after the SavedModel is staged, before the rename
        saved_model.export_audio_encoder(build_audio_encoder(), sys.argv[1])
    """)
    target = str(tmp_path / "model")
    env = {**os.environ, "PYTHONPATH": ROOT}
    result = subprocess.run([sys.executable, "-c", script, target], env=env, capture_output=True, timeout=300)
    assert result.returncode == -signal.SIGKILL
    left = os.listdir(tmp_path)
    assert len(left) == 1 and left[0].startswith(".model.export-")
    export_audio_encoder(build_audio_encoder(), target)
    assert os.listdir(tmp_path) == ["model"]


def test_a_re_export_carries_the_runs_training_record(prepared_demo, tmp_path):
    from cmir_tf.data.prepared import PreparedFolder
    from cmir_tf.training.config import TrainConfig, store_config
    from cmir_tf.training.loop import build_model

    run = tmp_path / "run"
    config = TrainConfig(variant="contr_g", data_dir=prepared_demo, model_dir=str(run), precision="mixed_bfloat16",
                         batch_size=8, num_heads=2)
    store_config(config, "data-fingerprint")
    keras.utils.set_random_seed(0)
    model = build_model(config)
    tf.train.CheckpointManager(tf.train.Checkpoint(model=model), str(run / "best"), 1).save(checkpoint_number=7)
    hint = recipe.REEXPORT_HINT[recipe.REEXPORT_HINT.index("python "):recipe.REEXPORT_HINT.index(" (RUN")]
    command = (hint.replace("RUN", str(run)).replace("VARIANT", "contr_g").replace("PREPARED_DIR", prepared_demo)
               .replace("NEW_DIR", str(tmp_path / "again")).split())
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run([sys.executable, *command[1:]], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    again = ExportedModel(str(tmp_path / "again"))
    assert again.variant == "contr_g" and again.modalities == ("genre",)
    assert again.metadata["best_step"] == 7 and again.metadata["batch_size"] == 8
    assert again.training_precision == "mixed_bfloat16" and again.asset["dtype_policy"] == "float32"
    assert again.train_split_fingerprint == PreparedFolder(prepared_demo).split_fingerprint()
    assert protocol.training_split_warning(again, prepared_demo, test_songs_given=False) is None
