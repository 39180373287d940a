"""A SavedModel records its log-mel recipe; cmir-embed and evaluate.py refuse one made with another recipe."""

import json
import os
import subprocess
import sys

import pytest

from cmir_tf.audio import FRONT_END_PARAMS, FrontEndMismatchError, check_front_end
from cmir_tf.evaluation import SavedModelEmbedder
from cmir_tf.export.exported import ExportedModel, NotACmirModelError

# What exports recorded before issue 11 (no version, Essentia's default weighting='warping').
VERSION_1 = {
    **{k: v for k, v in FRONT_END_PARAMS.items() if k not in ("version", "essentia")},
    "mel_warping": "slaneyMel edges, triangles in Essentia's hz2mel (weighting='warping')",
}


def _fake_model(folder, front_end) -> str:
    """A folder that looks like a cmir_tf export from the outside: the asset and an (unloadable) graph."""
    os.makedirs(folder / "assets")
    (folder / "assets" / "cmir_tf.json").write_text(json.dumps({"front_end": front_end, "metadata": {}}))
    (folder / "saved_model.pb").write_bytes(b"")
    return str(folder)


def test_the_recipe_is_spelled_out_in_full():
    mel_bands = next(step for step in FRONT_END_PARAMS["essentia"] if step.startswith("MelBands"))
    assert "weighting='linear'" in mel_bands and "normalize='unit_tri'" in mel_bands
    assert "warpingFormula='slaneyMel'" in mel_bands and "type='power'" in mel_bands
    assert "UnaryOperator(type='lin2db', scale=2, shift=0)" in FRONT_END_PARAMS["essentia"]
    assert FRONT_END_PARAMS["version"] == 2


def test_an_equal_recipe_passes_and_a_model_without_the_asset_is_not_a_cmir_model(tmp_path):
    check_front_end(FRONT_END_PARAMS, "same")
    (tmp_path / "saved_model.pb").write_bytes(b"")
    with pytest.raises(NotACmirModelError, match="no assets/cmir_tf.json"):
        ExportedModel(str(tmp_path))


def test_the_refusal_names_each_difference_and_how_to_re_export(tmp_path):
    model = _fake_model(tmp_path / "old", VERSION_1)
    with pytest.raises(FrontEndMismatchError) as refused:
        check_front_end(VERSION_1, model)
    message = str(refused.value)
    assert "version: model '(absent)', here 2" in message and "mel_warping: model" in message
    assert "python -m cmir_tf export --checkpoint=" in message and "--data_dir=" in message
    for load in (lambda: SavedModelEmbedder(model), lambda: ExportedModel(model)):
        with pytest.raises(FrontEndMismatchError, match="version: model"):
            load()


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_evaluate_refuses_with_exit_status_2(tmp_path):
    model = _fake_model(tmp_path / "old", VERSION_1)
    command = [sys.executable, os.path.join(ROOT, "evaluate.py"), "--task=gtzan", "--gtzan_dir=.", "--name=x",
               f"--model={model}"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    assert "another front end" in result.stderr and "Traceback" not in result.stderr
