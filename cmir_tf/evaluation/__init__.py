"""Downstream evaluation: GTZAN genre, MTG-Jamendo tagging and Melon playlist continuation (paper protocol).

Entry points, usable from Python; `evaluate_model` (`cmir_tf.evaluation.run`) runs every task with one config, as
`cmir-evaluate` and the ablation do; each task's own function returns a JSON-ready
dict with the metrics and a random baseline:

  embedder = SavedModelEmbedder("exported/contr_cf_g", output="features")
  evaluate_gtzan(embedder, gtzan_dir, repeats=10)
  evaluate_jamendo(embedder, jamendo_audio_dir, repeats=10)
  evaluate_playlists(embedder, melon_dir, prepared_data_dir)
  results.record(results_dir, task, name, result)   # results/<task>.json and the paper's table

The names are imported on first use, so that importing this package loads no TensorFlow.
"""

import importlib

_SOURCES = {
    "EmbeddingCache": "cmir_tf.evaluation.embeddings",
    "SavedModelEmbedder": "cmir_tf.evaluation.embeddings",
    "evaluate_gtzan": "cmir_tf.evaluation.gtzan",
    "evaluate_jamendo": "cmir_tf.evaluation.jamendo",
    "evaluate_playlists": "cmir_tf.evaluation.playlist",
    "ProbeConfig": "cmir_tf.evaluation.probes",
    "EvaluationConfig": "cmir_tf.evaluation.run",
    "evaluate_model": "cmir_tf.evaluation.run",
    "results": "cmir_tf.evaluation.results",
}
__all__ = sorted(_SOURCES)


def __getattr__(name: str):
    if name not in _SOURCES:
        raise AttributeError(f"module 'cmir_tf.evaluation' has no attribute {name!r}")
    module = importlib.import_module(_SOURCES[name])
    return module if name == "results" else getattr(module, name)
