"""Downstream evaluation: GTZAN genre, MTG-Jamendo tagging and Melon playlist continuation (paper protocol).

Entry points, usable from Python and from `evaluate.py`; each returns a JSON-ready dict with the metrics and
a random baseline:

  embedder = SavedModelEmbedder("exported/contr_cf_g", output="features")
  evaluate_gtzan(embedder, gtzan_dir, repeats=10)
  evaluate_jamendo(embedder, jamendo_audio_dir, repeats=10)
  evaluate_playlists(embedder, melon_dir, prepared_data_dir)
  results.record(results_dir, task, name, result)   # results/<task>.json and the paper's table
"""

from cmir_tf.evaluation import results
from cmir_tf.evaluation.embeddings import EmbeddingCache, SavedModelEmbedder
from cmir_tf.evaluation.gtzan import evaluate_gtzan
from cmir_tf.evaluation.jamendo import evaluate_jamendo
from cmir_tf.evaluation.playlist import evaluate_playlists
from cmir_tf.evaluation.probes import ProbeConfig

__all__ = ["EmbeddingCache", "ProbeConfig", "SavedModelEmbedder", "evaluate_gtzan", "evaluate_jamendo",
           "evaluate_playlists", "results"]
