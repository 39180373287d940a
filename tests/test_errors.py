"""One error model: every command, on every kind of bad input that applies to it, ends with one line
`cmir-NAME: error: ...` (no traceback) and the status of that kind of input, the same from every command:

    a missing path 1, a read-only output location 1 (a real read-only mount), an undecodable audio file 1,
    a damaged prepared folder 1, a model or folder of another front-end recipe 2, a bad flag 2.

Each command runs in-process (`cli_helpers.run_command`: its flags parsed and its failure mapped by
`cmir_tf.cli.runner`, as the console script does)."""

import json
import os
import shutil

import pytest

from cmir_tf import errors
from cmir_tf.cli import runner

from cli_helpers import run_cli, run_command

STATUS = {"missing_path": 1, "read_only": 1, "undecodable": 1, "damaged_folder": 1, "other_recipe": 2,
          "bad_flag": 2}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, demo_corpus, prepared_demo, audio_export, tag_model):
    """Paths every case names: models (one of another front-end recipe), audio (one undecodable), a damaged
    copy of the prepared demo folder, a weights file and a PyTorch checkpoint."""
    import keras

    from cmir_tf.models import build_audio_encoder

    root = tmp_path_factory.mktemp("bad_inputs")
    other = shutil.copytree(audio_export, root / "other_recipe")
    asset_path = other / "assets" / "cmir_tf.json"
    asset = json.loads(asset_path.read_text())
    asset["front_end"]["n_mels"] = 96
    asset_path.write_text(json.dumps(asset))
    music = root / "music"
    music.mkdir()
    clip = sorted((os.path.join(d, f) for d, _, fs in os.walk(os.path.join(demo_corpus, "gtzan")) for f in fs
                   if f.endswith(".wav")))[0]
    shutil.copy(clip, music / "song.wav")
    (root / "broken.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio at all")
    damaged = shutil.copytree(prepared_demo, root / "damaged")
    shard = sorted(p for p in damaged.rglob("*.tfrecord"))[0]
    shard.write_bytes(shard.read_bytes()[:-100])
    weights = str(root / "encoder.weights.h5")
    keras.utils.set_random_seed(0)
    build_audio_encoder().save_weights(weights)
    from cmir_tf.joint import JointSpace
    from cmir_tf.search import build_index

    build_index(JointSpace(tag_model[1]), [str(music / "song.wav")], str(root / "music.idx"), n_trees=2)
    return {"model": audio_export, "index": str(root / "music.idx"), "joint": tag_model[1], "other": str(other), "song": str(music / "song.wav"),
            "music": str(music), "broken": str(root / "broken.wav"), "damaged": str(damaged),
            "prepared": prepared_demo, "melon": os.path.join(demo_corpus, "melon"), "weights": weights,
            "corpus": demo_corpus, "root": root}


@pytest.fixture(scope="module")
def torch_checkpoint(tmp_path_factory) -> str:
    torch = pytest.importorskip("torch")
    from torch_reference import ReferenceAudioEncoder

    path = str(tmp_path_factory.mktemp("torch") / "audio_encoder.pt")
    torch.save(ReferenceAudioEncoder().state_dict(), path)
    return path


def _gtzan(inputs) -> list[str]:
    return [f"--gtzan_dir={os.path.join(inputs['corpus'], 'gtzan')}", "--repeats=1", "--epochs=1"]


# command -> kind -> argv(inputs, out, read_only); `out` is a fresh writable folder.
CASES = {
    "prepare": {
        "missing_path": lambda i, o, r: ["--melon_dir=/no/such/melon", f"--output_dir={o}/p"],
        "read_only": lambda i, o, r: [f"--melon_dir={i['melon']}", f"--output_dir={r}/p"],
    },
    "train": {
        "missing_path": lambda i, o, r: ["--data_dir=/no/such/prepared", f"--model_dir={o}/run"],
        "read_only": lambda i, o, r: [f"--data_dir={i['prepared']}", f"--model_dir={r}/run", "--batch_size=8"],
        "damaged_folder": lambda i, o, r: [f"--data_dir={i['damaged']}", f"--model_dir={o}/run", "--batch_size=8"],
    },
    "export": {
        "missing_path": lambda i, o, r: ["--weights=/no/such.weights.h5", f"--output_dir={o}/e"],
        "read_only": lambda i, o, r: [f"--weights={i['weights']}", f"--output_dir={r}/e"],
    },
    "from-torch": {
        "missing_path": lambda i, o, r: ["--checkpoint=/no/such.pt", "--variant=contr_g", f"--output={o}/t"],
        "read_only": lambda i, o, r: [f"--checkpoint={i['torch']}", "--variant=contr_g", f"--output={r}/t"],
    },
    "to-litert": {
        "missing_path": lambda i, o, r: ["--model=/no/such/model", f"--output={o}/m.tflite"],
        "read_only": lambda i, o, r: [f"--model={i['model']}", f"--output={r}/m.tflite"],
        "other_recipe": lambda i, o, r: [f"--model={i['other']}", f"--output={o}/m.tflite"],
    },
    "evaluate": {
        "missing_path": lambda i, o, r: ["--model=/no/such/model", "--name=x", "--task=gtzan", *_gtzan(i)],
        "read_only": lambda i, o, r: [f"--model={i['model']}", "--name=x", "--task=gtzan", f"--results_dir={r}/res",
                                      *_gtzan(i)],
        "other_recipe": lambda i, o, r: [f"--model={i['other']}", "--name=x", "--task=gtzan", *_gtzan(i)],
    },
    "ablation": {
        "missing_path": lambda i, o, r: [f"--output_dir={o}/a", "--data_dir=/no/such", "--melon_dir=/no/such",
                                         "--gtzan_dir=/no/such", "--jamendo_dir=/no/such"],
        "read_only": lambda i, o, r: [f"--output_dir={r}/a"],
        "damaged_folder": lambda i, o, r: [f"--output_dir={o}/a", f"--data_dir={i['damaged']}",
                                           f"--melon_dir={i['melon']}", f"--gtzan_dir={i['corpus']}/gtzan",
                                           f"--jamendo_dir={i['corpus']}/mtg-jamendo"],
    },
    "embed": {
        "missing_path": lambda i, o, r: [f"--model={i['model']}", f"--output_dir={o}/e", "/no/such.wav"],
        "read_only": lambda i, o, r: [f"--model={i['model']}", f"--output_dir={r}/e", i["song"]],
        "undecodable": lambda i, o, r: [f"--model={i['model']}", f"--output_dir={o}/e", i["broken"]],
        "other_recipe": lambda i, o, r: [f"--model={i['other']}", f"--output_dir={o}/e", i["song"]],
    },
    "search": {
        "missing_path": lambda i, o, r: ["tags", "/no/such.wav", f"--model={i['joint']}"],
        "read_only": lambda i, o, r: ["index", i["music"], f"--model={i['joint']}", f"--index={r}/idx"],
        "undecodable": lambda i, o, r: ["tags", i["broken"], f"--model={i['joint']}"],
        "other_recipe": lambda i, o, r: ["tags", i["song"], f"--model={i['other']}"],
    },
    "pretrained": {
        "missing_path": lambda i, o, r: ["path", "contr_cf_g"],  # not fetched into the test's empty cache
    },
    "explore": {
        "missing_path": lambda i, o, r: ["--index=/no/such/index", "--port=0"],
        "other_recipe": lambda i, o, r: [f"--index={i['index']}", f"--model={i['other']}", "--port=0"],
    },
    "corpus": {
        "read_only": lambda i, o, r: [f"--output_dir={r}/c", "--workers=1"],
    },
}
for command_cases in CASES.values():
    command_cases["bad_flag"] = lambda i, o, r: ["--no_such_flag=1"]
PARAMS = [pytest.param(name, kind, id=f"{name}-{kind}") for name, kinds in CASES.items() for kind in kinds]


def test_every_command_has_cases():
    from cmir_tf import cli

    assert set(CASES) == set(cli.COMMANDS)


@pytest.mark.parametrize("name,kind", PARAMS)
def test_a_bad_input_ends_the_command_in_one_line_with_its_status(name, kind, inputs, torch_checkpoint, read_only,
                                                                   tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CMIR_TF_HOME", str(tmp_path / "cache"))  # no released encoder fetched
    argv = CASES[name][kind]({**inputs, "torch": torch_checkpoint}, tmp_path, read_only)
    status = run_command(name, *argv)
    err = capsys.readouterr().err
    assert status == STATUS[kind], err
    assert "Traceback" not in err, err
    assert err.strip().splitlines()[-1].startswith(f"cmir-{name}: error: ") and err.count(": error: ") == 1, err


@pytest.mark.parametrize("verbosity", [0, 1])
def test_verbosity_1_adds_the_traceback(verbosity, capsys):
    def main(argv):
        raise errors.InputError("the input went away")

    assert run_cli(lambda: None, main, [f"--verbosity={verbosity}"], "cmir-test") == 1
    err = capsys.readouterr().err
    assert err.endswith("cmir-test: error: the input went away\n")
    assert ("Traceback" in err) == (verbosity == 1), err


def test_ctrl_c_is_one_line_and_130(capsys):
    with pytest.raises(SystemExit) as stop:
        runner.fail("cmir-test", KeyboardInterrupt())
    assert stop.value.code == 130 and capsys.readouterr().err == "cmir-test: interrupted\n"


def test_a_defect_keeps_its_traceback():
    with pytest.raises(ZeroDivisionError):
        runner.fail("cmir-test", ZeroDivisionError("a bug"))


def test_every_domain_exception_is_in_one_branch():
    import importlib
    import pkgutil

    import cmir_tf

    found = []
    for info in pkgutil.walk_packages(cmir_tf.__path__, "cmir_tf."):
        module = importlib.import_module(info.name)
        found += [obj for obj in vars(module).values() if isinstance(obj, type) and issubclass(obj, Exception)
                  and obj.__module__ == info.name]
    assert len(found) >= 20
    outside = [f"{c.__module__}.{c.__name__}" for c in found if not issubclass(c, errors.CmirError)]
    assert outside == [], outside
    assert all(issubclass(c, (errors.UsageError, errors.InputError)) for c in found if c is not errors.CmirError)
