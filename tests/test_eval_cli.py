"""evaluate.py end to end: a tiny demo corpus, an exported (untrained) encoder, all three tasks, two names."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from cmir_tf import errors
from cmir_tf.audio import chunk_mel
from cmir_tf.evaluation import SavedModelEmbedder



@pytest.fixture(scope="module")
def evaluate():
    from cmir_tf.cli import evaluate as cli

    cli.define_flags()
    return cli


@pytest.fixture
def corpus(eval_corpus, audio_export):
    return eval_corpus, audio_export


def _run(evaluate, argv):
    """Runs cmir-evaluate's main in-process and checks that it left the process's dtype policy and seeds as they
    were (the probes seed every repeat)."""
    import random

    import keras

    before = (keras.mixed_precision.global_policy().name, random.getstate(), np.random.get_state()[1].copy())
    evaluate.FLAGS.unparse_flags()
    evaluate.FLAGS(["evaluate.py", *argv])
    try:
        evaluate.main(["evaluate.py"])
    finally:
        after = (keras.mixed_precision.global_policy().name, random.getstate(), np.random.get_state()[1])
        assert after[:2] == before[:2] and (after[2] == before[2]).all()


def test_embedder_reads_the_exported_signatures(corpus):
    root, model = corpus
    for output, dim in (("features", 1024), ("embedding", 128)):
        embedder = SavedModelEmbedder(model, output=output)
        assert embedder.dim == dim
        mel = np.random.default_rng(0).normal(-40, 10, (300, 48)).astype(np.float32)
        chunks = embedder.embed_chunks(chunk_mel(mel).numpy())
        assert chunks.shape == (2, dim)  # ceil(300 / 256) chunks
        expected = tf.saved_model.load(model).signatures["embed_track_mel"](mel=tf.constant(mel))[output]
        np.testing.assert_allclose(chunks, expected.numpy(), rtol=1e-5, atol=1e-5)
    both = SavedModelEmbedder(model).embed_both(chunk_mel(mel).numpy())  # one call, both outputs
    assert {name: v.shape for name, v in both.items()} == {"features": (2, 1024), "embedding": (2, 128)}
    np.testing.assert_allclose(both["embedding"], chunks, rtol=1e-5, atol=1e-5)  # the last output checked above
    with pytest.raises(ValueError, match="output must be one of"):
        SavedModelEmbedder(model, output="mean")


def test_evaluate_cli_all_tasks_accumulates_tables(corpus, evaluate, capsys):
    root, model = corpus
    common = [f"--model={model}", f"--results_dir={root / 'results'}", f"--cache_dir={root / 'cache'}",
              f"--gtzan_dir={root / 'demo/gtzan'}", f"--gtzan_splits_dir={root / 'gtzan_lists'}",
              f"--jamendo_dir={root / 'demo/mtg-jamendo'}", f"--melon_dir={root / 'demo/melon'}",
              f"--data_dir={root / 'prepared'}", "--repeats=1", "--epochs=3", "--embedding=embedding"]
    with pytest.raises(errors.ConfigError, match="--melon_dir, --data_dir"):
        _run(evaluate, [f"--model={model}", "--name=x", "--task=playlist"])
    _run(evaluate, ["--task=all", "--name=Untrained-A", "--exact", "--search_precision=float32", *common])
    _run(evaluate, ["--task=playlist", "--name=Untrained-B", "--n_trees=5", *common])
    printed = capsys.readouterr().out
    assert "Table 3: Melon playlist continuation" in printed and "| Untrained-B |" in printed

    runs = {task: json.loads((root / "results" / f"{task}.json").read_text())
            for task in ("gtzan", "jamendo", "playlist")}
    assert list(runs["playlist"]) == ["Untrained-A", "Untrained-B"]
    assert runs["playlist"]["Untrained-A"]["search"] == "exact"
    assert 0.0 <= runs["playlist"]["Untrained-B"]["search_recall@100"] <= 1.0
    assert runs["gtzan"]["Untrained-A"]["n_tracks"] == {"train": 30, "validation": 30, "test": 30}
    assert runs["gtzan"]["Untrained-A"]["dim"] == 128
    assert set(runs["jamendo"]["Untrained-A"]["categories"]) == {"genre", "instrument", "moodtheme"}
    table = (root / "results" / "playlist.md").read_text()
    assert table.count("| Untrained-") == 2 and "| Random ranking |" in table
    assert "| Untrained-A |" in (root / "results" / "jamendo.md").read_text()
    assert (root / "results" / "gtzan_confusion_Untrained-A.png").exists()
    assert runs["playlist"]["Untrained-A"]["embedding_map"]["songs"] == 12  # embedding_map_<name>.png drawn
    assert (root / "results" / "embedding_map_Untrained-A.png").exists()
    assert len(os.listdir(root / "cache")) == 1  # one folder per model
