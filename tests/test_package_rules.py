"""Rules of the package as a library: importing it changes nothing in the process, and no stage imports a later one."""

import ast
import json
import os
import pkgutil
import subprocess
import sys

import pytest

import cmir_tf

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.dirname(cmir_tf.__file__)

# The stages, lowest first: a module may import modules of its own stage and of lower ones only. The shared
# base (numbers, errors, the commands' process policy) comes first; the export format sits below training, which
# ends by writing an export; the joint-space modules and fine-tuning use exports; evaluation and the ablation use
# all; the explorer (a web page over an index) uses the joint space, search and evaluation's continuation; the
# command layer sits on top of everything.
STAGES = (
    ("constants", "batch_keys", "cpu", "runtime", "errors", "flagfiles", "__init__"),
    ("audio",),
    ("data", "synthetic"),
    ("losses",),
    ("models",),
    ("export",),
    ("training",),
    ("joint", "search", "hear", "finetune"),
    ("evaluation",),
    ("explore",),
    ("experiments",),
    ("cli", "__main__"),
)
STAGE_OF = {part: level for level, parts in enumerate(STAGES) for part in parts}

# What a process shows of cmir-tf's policies: environment, log levels and filters, calls redirecting fd 2.
SNAPSHOT = r"""
import importlib, json, logging, os, sys

dup2_calls = []
real_dup2 = os.dup2
os.dup2 = lambda fd, fd2, *a: (dup2_calls.append(fd2), real_dup2(fd, fd2, *a))[1]
for name in (a for a in sys.argv[2:] if not a.startswith("-")):  # frameworks loaded before the snapshot: only cmir-tf's own changes count
    importlib.import_module(name)
from absl import flags

def state():
    loggers = {name: [logging.getLogger(name).level, [type(f).__name__ for f in logging.getLogger(name).filters]]
               for name in ("absl", "tensorflow", "keras", "gensim", "")}
    return {"environ": dict(os.environ), "loggers": loggers, "fd2_redirected": 2 in dup2_calls,
            "flags_parsed": flags.FLAGS.is_parsed()}

before = state()
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
print(json.dumps({"before": before, "after": state(), "tensorflow": "tensorflow" in sys.modules}))
"""


def _snapshot(modules: list[str], preload: list[str] = (), cwd: str = "/") -> dict:
    """The process state before and after importing `modules`, in a fresh interpreter (after `preload`)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS", "GRPC_VERBOSITY")}
    env["PYTHONPATH"] = os.pathsep.join([REPO, env.get("PYTHONPATH", "")])
    result = subprocess.run([sys.executable, "-c", SNAPSHOT, json.dumps(modules), *preload, "--verbosity=0"],
                            env=env, capture_output=True, text=True, timeout=600, cwd=cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _all_modules() -> list[str]:
    return ["cmir_tf"] + sorted(m.name for m in pkgutil.walk_packages([PACKAGE], "cmir_tf."))


def test_import_cmir_tf_changes_nothing_and_loads_no_framework():
    light = ["cmir_tf", "cmir_tf.runtime", "cmir_tf.cli", "cmir_tf.cli.runner", "cmir_tf.errors", "cmir_tf.flagfiles", "cmir_tf.constants",
             "cmir_tf.synthetic.corpus"]
    found = _snapshot(light)
    assert found["before"] == found["after"]
    assert not found["after"]["fd2_redirected"] and not found["after"]["flags_parsed"]
    assert not found["tensorflow"]  # none of these needs TensorFlow; the old `import cmir_tf` loaded it


def test_importing_every_module_changes_nothing():
    found = _snapshot(_all_modules(), ["tensorflow", "keras", "gensim", "absl.logging"])
    assert found["before"]["environ"] == found["after"]["environ"]
    assert found["before"]["loggers"] == found["after"]["loggers"]
    assert not found["after"]["fd2_redirected"] and not found["after"]["flags_parsed"]


def _imports(path: str) -> set[str]:
    """The cmir_tf modules a file imports, anywhere in it (function-level imports included)."""
    with open(path) as f:
        tree = ast.parse(f.read())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{a.name}" for a in node.names} if node.module == "cmir_tf" else {node.module}
    return {name for name in found if name.split(".")[0] == "cmir_tf"}


def _stage(module: str) -> int:
    part = module.split(".")[1] if "." in module else "__init__"
    assert part in STAGE_OF, f"{module}: no stage in STAGES; add it"
    return STAGE_OF[part]


def test_no_module_imports_a_later_stage():
    upward = []
    for folder, _, names in os.walk(PACKAGE):
        for name in sorted(n for n in names if n.endswith(".py")):
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, os.path.dirname(PACKAGE))[: -len(".py")]
            module = relative.replace(os.sep, ".").removesuffix(".__init__")
            upward += [f"{module} -> {target}" for target in sorted(_imports(path)) if _stage(target) > _stage(module)]
    assert not upward, upward


# Modules that are programs themselves (`python -m ...`): they may end the process.
PROGRAM_MODULES = ("cmir_tf/__main__.py", "cmir_tf/flagfiles/__main__.py")


def _command_line_uses(path: str) -> list[str]:
    """What a library module must not do: import absl's flags or app, name FLAGS, call sys.exit, or import
    the command layer."""
    with open(path) as f:
        tree = ast.parse(f.read())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "absl":
            found += [f"from absl import {a.name}" for a in node.names if a.name in ("flags", "app")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cmir_tf.cli"):
            found.append(f"from {node.module} import ...")
        elif isinstance(node, ast.ImportFrom) and node.module == "cmir_tf":
            found += [f"from cmir_tf import {a.name}" for a in node.names if a.name == "cli"]
        elif isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name in ("absl.flags", "absl.app")
                      or a.name.startswith("cmir_tf.cli")]
        elif isinstance(node, ast.Name) and node.id == "FLAGS":
            found.append("FLAGS")
        elif isinstance(node, ast.Attribute) and node.attr == "exit" and ast.unparse(node.value) == "sys":
            found.append("sys.exit")
    return sorted(set(found))


def test_only_the_command_layer_knows_the_command_line():
    offenders = {}
    for folder, _, names in os.walk(PACKAGE):
        for name in sorted(n for n in names if n.endswith(".py")):
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, os.path.dirname(PACKAGE))
            if relative.startswith(os.path.join("cmir_tf", "cli")) or relative in PROGRAM_MODULES:
                continue
            uses = _command_line_uses(path)
            if uses:
                offenders[relative] = uses
    assert offenders == {}, offenders


@pytest.mark.parametrize("module, target, expected", [
    ("cmir_tf.export.embed_files", "cmir_tf.evaluation.files", True), ("cmir_tf.evaluation", "cmir_tf.export", False),
    ("cmir_tf.training.loop", "cmir_tf.export.saved_model", False), ("cmir_tf.models", "cmir_tf.training", True),
])
def test_the_stage_rule_tells_upward_imports(module, target, expected):
    assert (_stage(target) > _stage(module)) == expected
