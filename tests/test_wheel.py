"""The wheel, installed in a fresh virtual environment, runs every stage from a folder outside the checkout.

The wheel is built from a copy of the package sources (`pip wheel --no-deps --no-build-isolation`, offline);
the venv gets it with `pip install --no-deps` and sees this interpreter's installed dependencies through a
`.pth` file (a `--system-site-packages` venv made from a venv's python sees the base interpreter's packages,
not the venv's). No command runs with the checkout on the path.
"""

import glob
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCES = ("cmir_tf", "setup.cfg", "pyproject.toml", "README.md")  # what the wheel is built from
COMMANDS = ("cmir-prepare", "cmir-train", "cmir-export", "cmir-from-torch", "cmir-to-litert", "cmir-evaluate",
            "cmir-ablation", "cmir-embed", "cmir-search", "cmir-corpus", "cmir-explore")


class Installed:
    """The venv with the wheel: `run(command, *args)` runs one of its console scripts in `work`."""

    def __init__(self, root: str):
        self.root, self.work = root, os.path.join(root, "work")
        self.bin = os.path.join(root, "venv", "bin")
        os.makedirs(self.work)
        self.env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "TF_CPP_MIN_LOG_LEVEL")}

    def run(self, command: str, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
        path = os.path.join(self.bin, command)
        result = subprocess.run([path, *args], cwd=self.work, env=self.env, capture_output=True, text=True,
                                timeout=timeout)
        assert result.returncode == 0, f"{command} {args}: {result.stderr[-3000:]}"
        return result


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    root = str(tmp_path_factory.mktemp("wheel"))
    source = os.path.join(root, "source")
    for name in SOURCES:
        copy = shutil.copytree if os.path.isdir(os.path.join(REPO, name)) else shutil.copy
        kwargs = {"ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}
        copy(os.path.join(REPO, name), os.path.join(source, name), **kwargs)
    dist = os.path.join(root, "dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", dist, source], check=True, capture_output=True, timeout=600)
    (wheel,) = glob.glob(os.path.join(dist, "*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "cmir_tf/explore/static/explore.js" in names and "cmir_tf/explore/static/index.html" in names
    assert "cmir_tf/flagfiles/contrcf_g.flags" in names and "cmir_tf/splits/gtzan/test_filtered.txt" in names
    assert not [n for n in names if "torch_reference" in n or n.startswith(("tests/", "benchmarks/"))]

    venv = os.path.join(root, "venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True, timeout=300)
    python = os.path.join(venv, "bin", "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    dependencies = dict.fromkeys(sysconfig.get_paths()[k] for k in ("purelib", "platlib"))
    with open(os.path.join(site, "cmir_tf_test_dependencies.pth"), "w") as f:
        f.write("\n".join(dependencies) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q",
                    wheel], check=True, capture_output=True, timeout=600)
    return Installed(root)


@pytest.fixture(scope="module")
def prepared(installed, demo_corpus) -> str:
    """`cmir-prepare` of the demo corpus's Melon folder, run from the wheel."""
    installed.run("cmir-prepare", f"--melon_dir={os.path.join(demo_corpus, 'melon')}", "--output_dir=prepared",
                  "--word2vec_dim=16", "--songs_per_shard=50", "--frames=600", "--cf_threads=1")
    return os.path.join(installed.work, "prepared")


def test_the_wheel_has_every_command_and_imports_its_own_package(installed):
    assert all(os.path.exists(os.path.join(installed.bin, c)) for c in COMMANDS)
    where = subprocess.run([os.path.join(installed.bin, "python"), "-c", "import cmir_tf; print(cmir_tf.__file__)"],
                           cwd=installed.work, env=installed.env, capture_output=True, text=True, check=True)
    assert where.stdout.strip().startswith(os.path.join(installed.root, "venv"))
    page = installed.run("python", "-c",
                         "from cmir_tf.explore.server import static_files; print(sorted(static_files()))")
    assert page.stdout.strip() == "['/', '/static/explore.css', '/static/explore.js']"  # cmir-explore's page files
    helped = installed.run("cmir-embed", "--help")
    assert "--segment" in helped.stdout and "flags of cmir-embed:" in helped.stdout
    flagfile = installed.run("python", "-m", "cmir_tf.flagfiles", "contrcf_g").stdout.strip()
    assert flagfile.startswith(os.path.join(installed.root, "venv")) and "--variant=contr_cf_g" in open(flagfile).read()


def test_prepare_export_and_embed_from_the_wheel(installed, prepared, demo_corpus):
    with open(os.path.join(prepared, "manifest.json")) as f:
        assert json.load(f)["counts"]["train"] > 0
    # An untrained encoder's Keras weights, the input of `cmir-export --weights`.
    weights = os.path.join(installed.work, "encoder.weights.h5")
    subprocess.run([os.path.join(installed.bin, "python"), "-c",
                    "import sys; from cmir_tf.models import build_audio_encoder; "
                    "build_audio_encoder().save_weights(sys.argv[1])", weights],
                   cwd=installed.work, env=installed.env, check=True, capture_output=True, timeout=600)
    installed.run("cmir-export", f"--weights={weights}", "--output_dir=untrained")
    clip = sorted(glob.glob(os.path.join(demo_corpus, "gtzan", "genres", "*", "*.wav")))[0]
    installed.run("cmir-embed", "--model=untrained", "--embedding=embedding", "--output_dir=embeddings", clip)
    with np.load(os.path.join(installed.work, "embeddings", os.path.basename(clip) + ".npz")) as saved:
        assert saved["mean"].shape == (128,) and np.isfinite(saved["chunks"]).all()


def test_train_and_evaluate_from_the_wheel_with_a_packaged_flagfile(installed, prepared, eval_corpus):
    flagfile = installed.run("python", "-m", "cmir_tf.flagfiles", "contrcf_g").stdout.strip()
    installed.run("cmir-train", f"--flagfile={flagfile}", f"--data_dir={prepared}", "--model_dir=run",
                  "--batch_size=8", "--epochs=1", "--steps_per_epoch=2", "--validation_steps=1", "--log_every=1")
    export = os.path.join(installed.work, "run", "export")
    assert os.path.exists(os.path.join(export, "saved_model.pb"))
    installed.run("cmir-evaluate", "--task=gtzan", f"--model={export}", "--name=wheel",
                  f"--gtzan_dir={eval_corpus / 'demo' / 'gtzan'}", f"--gtzan_splits_dir={eval_corpus / 'gtzan_lists'}",
                  "--repeats=1", "--epochs=2", "--results_dir=results", "--cache_dir=")
    with open(os.path.join(installed.work, "results", "gtzan.json")) as f:
        assert "wheel" in json.load(f)
