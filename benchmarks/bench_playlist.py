"""Playlist continuation at Melon scale on synthetic embeddings: exact vs Annoy time, Annoy recall, cold start.

Synthetic corpus: `n_songs` songs with 128-d embeddings drawn around `n_clusters` random centres; the
last `n_candidates` songs are the test set (candidates). Each of `n_playlists` playlists has 20-40 songs
drawn from one or two clusters with a power-law popularity, so, as in Melon, popular songs recur across
playlists. Both search paths run on the same data, in the same process, and are timed end to end
(search + ranking + scoring, including the random baseline and, for Annoy, its recall sample).

Cold start (`cmir_tf.evaluation.cold_start`) ranks the candidates once per playlist instead of once per seed
song: the CF encoder maps every playlist's 301-d LightFM vector into the joint space (timed on random vectors
through a freshly initialised encoder), then one exact search of the mapped vectors over the candidates is
scored. The mapped vectors are stood in for by the mean of each playlist's seed-song embeddings.

  python benchmarks/bench_playlist.py [--n_playlists=100000 --n_candidates=65000 ...]
"""

from __future__ import annotations

from cmir_tf import runtime
from cmir_tf.cli import runner

runtime.configure()  # first, as every cmir-tf command: oneDNN on x86 and quiet logs, before TensorFlow loads

# ruff: noqa: E402
import time

import numpy as np
from absl import flags

from cmir_tf.constants import CF_DIM
from cmir_tf.evaluation.cold_start import cold_start_metrics
from cmir_tf.evaluation.playlist import continuation_metrics
from cmir_tf.models import build_cf_encoder
from cmir_tf.training.precision import machine_summary

flags.DEFINE_integer("n_songs", 650_000, "Songs in the corpus (seeds and candidates).")
flags.DEFINE_integer("n_candidates", 65_000, "Test-set songs (candidates).")
flags.DEFINE_integer("n_playlists", 100_000, "Playlists.")
flags.DEFINE_integer("dim", 128, "Embedding dimension.")
flags.DEFINE_integer("n_clusters", 1000, "Embedding clusters (playlist themes).")
flags.DEFINE_integer("n_trees", 50, "Annoy trees.")
flags.DEFINE_integer("search_k", 2000, "Annoy nodes inspected per query (-1: n_trees * 100).")
flags.DEFINE_integer("recall_sample", 2000, "Seeds on which Annoy's recall is measured.")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_multi_enum("methods", ["exact", "annoy", "cold_start"], ["exact", "annoy", "cold_start"],
                        "Methods to run (all three by default).")
FLAGS = flags.FLAGS


def synthetic_corpus(rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Embeddings (n_songs, dim), playlists (song index arrays) and the test-set mask (n_songs,)."""
    centres = rng.standard_normal((FLAGS.n_clusters, FLAGS.dim)).astype(np.float32)
    cluster = rng.integers(FLAGS.n_clusters, size=FLAGS.n_songs)
    embeddings = centres[cluster] + 0.7 * rng.standard_normal((FLAGS.n_songs, FLAGS.dim)).astype(np.float32)
    order = np.argsort(cluster, kind="stable")
    members = np.split(order, np.cumsum(np.bincount(cluster, minlength=FLAGS.n_clusters))[:-1])
    playlists = []
    for length in rng.integers(20, 41, size=FLAGS.n_playlists):
        pool = np.concatenate([members[c] for c in rng.integers(FLAGS.n_clusters, size=rng.integers(1, 3))])
        popularity = 1.0 / np.arange(1, len(pool) + 1) ** 0.8
        playlists.append(np.unique(rng.choice(pool, size=min(length, len(pool)), replace=False,
                                              p=popularity / popularity.sum())))
    is_test = np.zeros(FLAGS.n_songs, dtype=bool)
    is_test[rng.permutation(FLAGS.n_songs)[:FLAGS.n_candidates]] = True
    return embeddings, playlists, is_test


def cold_start(rng: np.random.Generator, embeddings: np.ndarray, queries: list[np.ndarray], is_test: np.ndarray,
               candidates: np.ndarray, truth_rows: list[np.ndarray]) -> dict:
    """Times `embed_cf` on one random LightFM vector per playlist, then scores the stand-in mapped vectors."""
    start = time.perf_counter()
    encoder = build_cf_encoder()
    encoder.predict(rng.standard_normal((len(queries), CF_DIM)).astype(np.float32), batch_size=4096, verbose=0)
    encode_seconds = time.perf_counter() - start
    stand_in = np.stack([embeddings[p[~is_test[p]]].mean(axis=0) for p in queries])
    result = cold_start_metrics(stand_in, embeddings[candidates], truth_rows, FLAGS.seed)
    result["total"] = time.perf_counter() - start
    print(f"cold start: {result['total']:7.1f} s total (embed_cf of {len(queries)} playlist vectors "
          f"{encode_seconds:.1f} s); NDCG@100 {result['ndcg@100']:.4f}, MAP@100 {result['map@100']:.4f}, random "
          f"NDCG@100 {result['random_baseline']['ndcg@100']:.4f}")
    return result


def main(_) -> None:
    print(machine_summary())
    rng = np.random.default_rng(FLAGS.seed)
    start = time.perf_counter()
    embeddings, playlists, is_test = synthetic_corpus(rng)
    candidates = np.flatnonzero(is_test)
    candidate_row = np.full(FLAGS.n_songs, -1)
    candidate_row[candidates] = np.arange(len(candidates))
    queries = [p for p in playlists if is_test[p].any() and not is_test[p].all()]
    seed_songs = np.unique(np.concatenate([p[~is_test[p]] for p in queries]))
    seed_row = np.full(FLAGS.n_songs, -1)
    seed_row[seed_songs] = np.arange(len(seed_songs))
    seed_rows = [seed_row[p[~is_test[p]]] for p in queries]
    truth_rows = [candidate_row[p[is_test[p]]] for p in queries]
    print(f"corpus: {len(queries)} playlists with test songs, {len(seed_songs)} distinct seed songs, "
          f"{len(candidates)} candidates, {FLAGS.dim}-d ({time.perf_counter() - start:.1f} s to generate)")

    results = {}
    for name, exact in (("exact", True), ("annoy", False)):
        if name not in FLAGS.methods:
            continue
        start = time.perf_counter()
        results[name] = continuation_metrics(
            embeddings[seed_songs], embeddings[candidates], seed_rows, truth_rows, exact=exact,
            n_trees=FLAGS.n_trees, search_k=FLAGS.search_k, recall_sample=FLAGS.recall_sample, seed=FLAGS.seed)
        results[name]["total"] = time.perf_counter() - start
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in results[name]["seconds"].items())
        print(f"{name:5s}: {results[name]['total']:7.1f} s total ({stages}); NDCG@100 "
              f"{results[name]['ndcg@100']:.4f}, MAP@100 {results[name]['map@100']:.4f}")
    if "cold_start" in FLAGS.methods:
        results["cold_start"] = cold_start(rng, embeddings, queries, is_test, candidates, truth_rows)
    limit = 600.0
    for name, result in results.items():
        print(f"{name}: {result['total']:.0f} s {'<=' if result['total'] <= limit else '>'} {limit:.0f} s limit")
    if "exact" not in results or "annoy" not in results:
        return
    exact, approx = results["exact"], results["annoy"]
    print(f"random baseline: NDCG@100 {exact['random_baseline']['ndcg@100']:.4f}, "
          f"MAP@100 {exact['random_baseline']['map@100']:.4f}")
    print(f"annoy / exact time: {approx['total'] / exact['total']:.2f}; annoy recall@100 vs exact "
          f"({FLAGS.recall_sample} seeds): {approx['search_recall@100']:.3f}; NDCG@100 annoy / exact: "
          f"{approx['ndcg@100'] / exact['ndcg@100']:.3f}")


if __name__ == "__main__":
    runner.run_main(main, "bench_playlist.py")
