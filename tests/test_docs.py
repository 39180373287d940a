"""README.md, ARCHITECTURE.md and docs/*.md stay true to the tree: every relative link (and its #anchor)
resolves, every command they show names a module, script, make target or console script that exists, every
`--flag` they name is one the package defines, and README's "three lines" embed a file as printed."""

import ast
import configparser
import os
import re

import numpy as np
import pytest
import soundfile as sf

from cmir_tf.export import pretrained

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = sorted(
    [os.path.join(ROOT, "README.md"), os.path.join(ROOT, "ARCHITECTURE.md")]
    + [os.path.join(ROOT, "docs", name) for name in os.listdir(os.path.join(ROOT, "docs")) if name.endswith(".md")]
)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
INLINE = re.compile(r"`([^`\n]+)`")
FLAG = re.compile(r"(?<![\w-])--([a-z][a-z0-9_]*)(?![\w-])")
# Commands of this project as the docs show them, and how to find what each names.
MODULE = re.compile(r"python -m (cmir_tf(?:\.\w+)+)")
SUBCOMMAND = re.compile(r"python -m cmir_tf ([a-z][\w-]*)")  # = the console script cmir-NAME
SCRIPT = re.compile(r"python ([\w/]+\.py)\b")
MAKE = re.compile(r"(?<![\w-])make (\w+)")
CONSOLE = re.compile(r"(?<![\w-])(cmir-[a-z]+(?:-[a-z]+)*)")
# Flags that belong to absl (every command has them) or to other programs the docs show (TensorBoard, pytest).
FOREIGN_FLAGS = {"flagfile", "help", "helpfull", "helpshort", "verbosity", "logdir", "durations"}


def _text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: str) -> set[str]:
    body = FENCE.sub("", _text(path))
    return {_slug(line.lstrip("#")) for line in body.splitlines() if re.match(r"#{1,6} ", line)}


def _code(path: str) -> list[str]:
    """Fenced blocks (with `\\` continuations joined) and inline code spans of a Markdown file."""
    text = _text(path)
    blocks = [body.replace("\\\n", " ") for _, body in FENCE.findall(text)]
    return blocks + INLINE.findall(FENCE.sub("", text))


def _python_sources() -> list[str]:
    paths = [os.path.join(ROOT, name) for name in os.listdir(ROOT) if name.endswith(".py")]
    for folder in ("cmir_tf", "export", "benchmarks"):
        for directory, _, files in os.walk(os.path.join(ROOT, folder)):
            paths += [os.path.join(directory, name) for name in files if name.endswith(".py")]
    return paths


def _defined_flag_names() -> set[str]:
    """Names the package can define as absl flags: the string literals of its sources (flag names are passed
    to `flags.DEFINE_*` as literals, or looped over from literal tuples and dicts, e.g. train.py's help
    table). A name no source spells cannot be a flag, which is what this check is for."""
    names = set()
    for path in _python_sources():
        for node in ast.walk(ast.parse(_text(path))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.fullmatch(r"[a-z]\w*", node.value):
                names.add(node.value)
    return names


def _console_scripts() -> set[str]:
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"))
    scripts = config.get("options.entry_points", "console_scripts", fallback="")
    names = {line.split("=")[0].strip() for line in scripts.splitlines() if "=" in line}
    pyproject = os.path.join(ROOT, "pyproject.toml")
    if os.path.exists(pyproject):
        names |= set(re.findall(r'^"?(cmir-[\w-]+)"?\s*=', _text(pyproject), re.M))
    return names


def _make_targets() -> set[str]:
    return set(re.findall(r"^([\w-]+):", _text(os.path.join(ROOT, "Makefile")), re.M))


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: os.path.relpath(p, ROOT))
def test_every_relative_link_and_anchor_resolves(doc):
    broken = []
    for target in LINK.findall(FENCE.sub("", _text(doc))):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        resolved = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
        if not os.path.exists(resolved):
            broken.append(f"{target}: no such file")
        elif anchor and resolved.endswith(".md") and anchor not in _anchors(resolved):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, broken


def test_every_command_names_something_that_exists():
    scripts, targets = _console_scripts(), _make_targets()
    missing = []
    for doc in DOCS:
        where = os.path.relpath(doc, ROOT)
        for code in _code(doc):
            for module in MODULE.findall(code):
                base = os.path.join(ROOT, *module.split("."))
                runs = os.path.isfile(os.path.join(base, "__main__.py")) or (
                    os.path.isfile(base + ".py") and 'if __name__ == "__main__":' in _text(base + ".py"))
                if not runs:
                    missing.append(f"{where}: python -m {module}")
            for script in SCRIPT.findall(code):
                if not os.path.isfile(os.path.join(ROOT, script)):
                    missing.append(f"{where}: python {script}")
            missing += [f"{where}: make {t}" for t in MAKE.findall(code) if t not in targets]
            missing += [f"{where}: {c}" for c in CONSOLE.findall(code) if c not in scripts and c != "cmir-tf"]
            missing += [f"{where}: python -m cmir_tf {c}" for c in SUBCOMMAND.findall(code) if f"cmir-{c}" not in scripts]
    assert not missing, missing


def test_every_flag_the_docs_name_is_defined():
    known = _defined_flag_names() | FOREIGN_FLAGS
    unknown = set()
    for doc in DOCS:
        for code in _code(doc):
            for name in FLAG.findall(code):
                if name not in known and not (name.startswith("no") and name[2:] in known):
                    unknown.add(f"{os.path.relpath(doc, ROOT)}: --{name}")
    assert not unknown, sorted(unknown)


def test_readme_three_lines_embed_a_file(audio_export, tmp_path, monkeypatch, capsys):
    """README's Python block, run as printed, with an export in the cache where `pretrained:contr_cf_g` is found
    (tests/test_pretrained.py downloads and converts one from a local server)."""
    (block,) = [body for lang, body in FENCE.findall(_text(os.path.join(ROOT, "README.md"))) if lang == "python"]
    monkeypatch.setenv(pretrained.HOME_VARIABLE, str(tmp_path / "home"))
    monkeypatch.setenv(pretrained.MIRROR_VARIABLE, "http://127.0.0.1:9/")  # never reached: the export is cached
    os.makedirs(pretrained.cache_dir("contr_cf_g"))
    os.symlink(audio_export, pretrained.export_dir("contr_cf_g"))
    t = np.arange(5 * 44100) / 44100
    sf.write(tmp_path / "song.wav", np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], 1) * 0.3,
             44100)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})
    assert capsys.readouterr().out.strip() == "(1024,) (128,)"
