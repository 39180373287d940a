"""Downstream evaluation: GTZAN genre, MTG-Jamendo tagging and Melon playlist continuation (paper protocol).

Entry points, usable from Python and from `evaluate.py` (`cmir_tf.evaluation.cli`); each returns a JSON-ready
dict with the metrics and a random baseline:

  embedder = SavedModelEmbedder("exported/contr_cf_g", output="features")
  evaluate_gtzan(embedder, gtzan_dir, repeats=10)
  evaluate_jamendo(embedder, jamendo_audio_dir, repeats=10)
  evaluate_playlists(embedder, melon_dir, prepared_data_dir)
  results.record(results_dir, task, name, result)   # results/<task>.json and the paper's table

The names are imported on first use, so that `python -m cmir_tf.evaluation.cli` applies its process defaults
(`cmir_tf.runtime`) before anything loads TensorFlow.
"""

import importlib

_SOURCES = {
    "EmbeddingCache": "cmir_tf.evaluation.embeddings",
    "SavedModelEmbedder": "cmir_tf.evaluation.embeddings",
    "evaluate_gtzan": "cmir_tf.evaluation.gtzan",
    "evaluate_jamendo": "cmir_tf.evaluation.jamendo",
    "evaluate_playlists": "cmir_tf.evaluation.playlist",
    "ProbeConfig": "cmir_tf.evaluation.probes",
    "results": "cmir_tf.evaluation.results",
}
__all__ = sorted(_SOURCES)


def __getattr__(name: str):
    if name not in _SOURCES:
        raise AttributeError(f"module 'cmir_tf.evaluation' has no attribute {name!r}")
    module = importlib.import_module(_SOURCES[name])
    return module if name == "results" else getattr(module, name)
