"""k nearest candidates of many query vectors by angular distance: batched matrix products, or Annoy.

Angular distance orders pairs like cosine similarity, so every search returns, per query, the indices of the
k most cosine-similar candidates (nearest first) and those similarities. Annoy's own angular distance is
d = sqrt(2 - 2 cos), hence cos = 1 - d^2 / 2.

The batched search runs its (batch, C) product in float32 (exact) or, on CPUs with native bf16, in bfloat16 at
about 3x the float32 rate: the bf16 product picks a shortlist of k + 32 candidates per query, which are rescored
in float32, so the similarities returned are float32 cosines and the order within the shortlist is exact; a
true neighbour is missed only when its bf16 score (within about 3 * 2^-8 of the true cosine for unit vectors)
falls below the shortlist's. Callers measure that recall against float32 on a sample (`recall_at_k`).
"""

from __future__ import annotations

import concurrent.futures
import os

import annoy
import numpy as np
import tensorflow as tf
from tqdm import tqdm

from cmir_tf import errors
from cmir_tf.cpu import NATIVE_BF16_CPU_FLAGS, bf16_usable_flags, cpu_model_and_flags

SEARCH_PRECISIONS = ("auto", "float32", "bfloat16")
SHORTLIST_MARGIN = 32  # bf16 shortlist of k + 32 candidates per query, rescored in float32


def _unit_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def resolve_search_precision(requested: str, cpu_flags: set[str] | None = None) -> str:
    """"float32" or "bfloat16" for `requested` in SEARCH_PRECISIONS; auto: bfloat16 only where the CPU has
    native bf16 (avx512_bf16 or amx_bf16, not capped by ONEDNN_MAX_CPU_ISA), since elsewhere it is emulated
    and slower than float32. `cpu_flags` defaults to this machine's."""
    if requested not in SEARCH_PRECISIONS:
        raise errors.ConfigError(f"search precision must be one of {SEARCH_PRECISIONS}, got {requested!r}")
    if requested != "auto":
        return requested
    flags = bf16_usable_flags(cpu_model_and_flags()[1] if cpu_flags is None else cpu_flags)
    return "bfloat16" if any(flag in flags for flag in NATIVE_BF16_CPU_FLAGS) else "float32"


TOP_K_BLOCK = 16  # columns per block of `_block_top_k`


def _block_top_k(scores: tf.Tensor, k: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """`tf.math.top_k(scores, k)` of (B, C) scores, exact, about 1.6x faster at C = 64.5k: the k blocks of
    TOP_K_BLOCK columns with the largest maxima hold all of a row's k largest values, so only those k x 16
    values are ranked. Returns values (B, k) and column indices (B, k); ties may be ordered differently."""
    rows, columns = tf.shape(scores)[0], tf.shape(scores)[1]
    blocks = (columns + TOP_K_BLOCK - 1) // TOP_K_BLOCK
    padded = tf.pad(scores, [[0, 0], [0, blocks * TOP_K_BLOCK - columns]], constant_values=float("-inf"))
    grouped = tf.reshape(padded, [rows, blocks, TOP_K_BLOCK])
    best_blocks = tf.math.top_k(tf.reduce_max(grouped, axis=2), k=tf.minimum(k, blocks)).indices
    values = tf.reshape(tf.gather(grouped, best_blocks, batch_dims=1), [rows, -1])  # (B, k * 16)
    top = tf.math.top_k(values, k=k)
    block_columns = best_blocks[:, :, None] * TOP_K_BLOCK + tf.range(TOP_K_BLOCK)[None, None, :]
    return top.values, tf.gather(tf.reshape(block_columns, [rows, -1]), top.indices, batch_dims=1)


_PAIR = [tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None, None], tf.float32),
         tf.TensorSpec([], tf.int32)]


@tf.function(input_signature=_PAIR)
def _top_k_float32(batch: tf.Tensor, items: tf.Tensor, k: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Unit-norm (B, D) queries and (C, D) items -> top-k similarities (B, k) and item indices (B, k)."""
    return _block_top_k(tf.matmul(batch, items, transpose_b=True), k)


@tf.function(input_signature=[*_PAIR, tf.TensorSpec([None, None], tf.bfloat16), tf.TensorSpec([], tf.int32)])
def _top_k_bf16_shortlist(batch: tf.Tensor, items: tf.Tensor, k: tf.Tensor, items_bf16: tf.Tensor,
                          shortlist: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """As `_top_k_float32`, through a bf16 (B, C) product's top-`shortlist` (B, S) rescored in float32."""
    rough = tf.matmul(tf.cast(batch, tf.bfloat16), items_bf16, transpose_b=True)
    picked = _block_top_k(rough, shortlist)[1]  # (B, S)
    rescored = tf.einsum("bd,bsd->bs", batch, tf.gather(items, picked))
    sims, order = tf.math.top_k(rescored, k=k)
    return sims, tf.gather(picked, order, batch_dims=1)


def top_k_cosine(queries: np.ndarray, items: tf.Tensor, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of (Q, D) unit-norm `queries` against (C, D) unit-norm `items` (a float32 tensor, kept by the
    caller across calls), in one product: (Q, k) int32 item indices, nearest first, and their (Q, k) cosines."""
    sims, top = _top_k_float32(np.asarray(queries, np.float32), items, tf.constant(k))
    return top.numpy(), sims.numpy()


def batched_neighbours(queries: np.ndarray, candidates: np.ndarray, k: int, batch_size: int = 2048,
                     precision: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    """Top-k by cosine similarity: one (batch, C) similarity product and `top_k` per query batch.

    Args:
      queries: (Q, D) vectors; candidates: (C, D) vectors; k: neighbours per query (<= C).
      precision: of the product, in SEARCH_PRECISIONS: float32 (exact), bfloat16 (the shortlist rescored in
        float32, see the module docstring) or auto (bfloat16 on CPUs with native bf16, float32 elsewhere).

    Returns:
      indices (Q, k) int32 into `candidates`, nearest first, and their cosine similarities (Q, k) float32.
    """
    if not 1 <= k <= len(candidates):
        raise ValueError(f"k must be in [1, {len(candidates)}], got {k}")
    items = tf.constant(_unit_rows(candidates))
    if resolve_search_precision(precision) == "bfloat16":
        extra = (tf.cast(items, tf.bfloat16), tf.constant(min(len(candidates), k + SHORTLIST_MARGIN)))
        search = _top_k_bf16_shortlist
    else:
        extra, search = (), _top_k_float32
    queries = _unit_rows(queries)
    indices = np.empty((len(queries), k), dtype=np.int32)
    similarities = np.empty((len(queries), k), dtype=np.float32)
    for start in tqdm(range(0, len(queries), batch_size), desc="batched search", unit="batch", leave=False):
        sims, top = search(queries[start:start + batch_size], items, tf.constant(k), *extra)
        indices[start:start + batch_size] = top.numpy()
        similarities[start:start + batch_size] = sims.numpy()
    return indices, similarities


def _usable_cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def build_annoy_index(candidates: np.ndarray, n_trees: int, seed: int = 0) -> annoy.AnnoyIndex:
    """An angular Annoy forest of `n_trees` trees over the (C, D) candidates (item i = row i)."""
    index = annoy.AnnoyIndex(candidates.shape[1], "angular")
    index.set_seed(seed)
    for i, vector in enumerate(np.asarray(candidates, dtype=np.float32)):
        index.add_item(i, vector)
    index.build(n_trees, n_jobs=-1)
    return index


def annoy_neighbours(index: annoy.AnnoyIndex, queries: np.ndarray, k: int, search_k: int = -1,
                     threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Approximate top-k from an Annoy index; rows with fewer than k hits are padded with -1 / -inf.

    `search_k` nodes are inspected per query (-1: Annoy's default, n_trees * k). Annoy answers one query a
    call but releases the GIL while searching, so `threads` (default: the CPUs this process may use) search
    interleaved slices of the queries side by side; the result does not depend on `threads`.
    """
    queries = np.asarray(queries, dtype=np.float32)
    indices = np.full((len(queries), k), -1, dtype=np.int32)
    similarities = np.full((len(queries), k), -np.inf, dtype=np.float32)
    threads = max(1, min(threads or _usable_cpus(), len(queries)))
    progress = tqdm(total=len(queries), desc="annoy search", unit="query", leave=False)

    def search(first: int) -> None:
        for row in range(first, len(queries), threads):
            hits, distances = index.get_nns_by_vector(queries[row].tolist(), k, search_k=search_k,
                                                      include_distances=True)
            indices[row, :len(hits)] = hits
            similarities[row, :len(hits)] = 1.0 - np.square(distances) / 2.0
            progress.update(1)

    with progress, concurrent.futures.ThreadPoolExecutor(threads) as pool:
        for done in [pool.submit(search, first) for first in range(threads)]:
            done.result()
    return indices, similarities


def recall_at_k(approximate: np.ndarray, exact: np.ndarray) -> float:
    """Mean over queries of |approximate top-k ∩ exact top-k| / k, both (Q, k) index arrays."""
    hits = [len(np.intersect1d(a[a >= 0], e)) for a, e in zip(approximate, exact)]
    return float(np.mean(hits) / exact.shape[1])
