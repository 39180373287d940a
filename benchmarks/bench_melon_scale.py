"""Every stage at the Melon Playlist Dataset's full size, on generated metadata: seconds, peak RSS, extrapolations.

    python benchmarks/bench_melon_scale.py [--scale=1.0] [--work_dir=DIR] [--lightfm_epochs=2]
        [--shard_songs=2000] [--embed_songs=300] [--annoy_seeds=5000] [--notrain_py]
    nice python benchmarks/bench_melon_scale.py --scale=0.05     # smoke test: a few minutes

Generated (seeded, `--seed`): `song_meta.json` of round(649,091 x scale) songs with 30 top-level (GNxx00) and
224 detailed (GNxxyy) genre codes (Zipf-like genre frequencies, 1-3 codes a song), `genre_gn_all.json`, and
`train.json` of round(115,071 x scale) playlists holding about 5.23M x scale entries: lengths gamma-distributed
(1-200, mean 45), songs drawn by Zipf-like popularity (weight 1 / (rank + 10)^0.8), 60 % of a playlist's songs
from its favourite top-level genre. Mels: `arena_mel/<id // 1000>/<id>.npy` for every song, **hard links** to
`--mel_pool` real-size (48, 1000-1900) float16 arrays of 20 log10(power) values, so after the first reads every
mel read is served from the page cache (a real disk reads 649k distinct files: shard writing may be slower
there). About 1 % of the songs are broken as in the real data: 0.5 % without a mel file, 0.3 % linked to an
array with infinities, 0.2 % to one shorter than a crop (150 frames).

Stages, one line each: seconds measured here, the full-scale seconds (measured when `--scale=1`, otherwise
scaled: linearly with songs or entries; an exact search by timing one batch of 2,048 queries against a
full-size candidate set, times the batches; samples scaled to all songs),
and the peak resident memory during the stage (/proc/self/status VmRSS sampled every 20 ms; the process's
whole-run peak from getrusage at the end). The prepare stages call `cmir_tf.data.prepare`'s stage functions;
LightFM runs `--lightfm_epochs` epochs with 1 and with 2 threads, extrapolated to the default 50 epochs;
shard writing writes `--shard_songs` songs; the reader and `train.py`'s first step run on a prepared sample of
the corpus; embedding runs an untrained paper-size encoder exported as a SavedModel on `--embed_songs` songs
inside evaluate.py's path (`embed_melon_songs`, both outputs) against the exported model's own rate in the
same run; the playlist, cold-start and zero-shot protocols run whole on random vectors in place of the
embeddings (query building, search, ranking and metrics measured; the embedding time extrapolated).
"""

from cmir_tf import runtime
from cmir_tf.cli import runner

runtime.configure()  # first, as every cmir-tf command: oneDNN on x86 and quiet logs, before TensorFlow loads

import os

os.environ.setdefault("TQDM_DISABLE", "1")  # one line per stage, no progress bars

# ruff: noqa: E402
import contextlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
from absl import flags, logging

from cmir_tf.data import cf_lightfm, fingerprint, melon, prepare, shards, splits, stages
from cmir_tf.data.prepared import PreparedFolder
from cmir_tf.evaluation import cold_start, neighbours, playlist
from cmir_tf.evaluation.embeddings import SavedModelEmbedder
from cmir_tf.evaluation.metrics import macro_tagging_scores
from cmir_tf.export import export_audio_encoder
from cmir_tf.export.chunk_batches import BATCH_CHUNKS
from cmir_tf.models import build_audio_encoder
from cmir_tf.training.precision import machine_summary

flags.DEFINE_float("scale", 1.0, "Fraction of Melon's size to generate (songs, playlists, entries).", lower_bound=1e-4)
flags.DEFINE_string("work_dir", None, "Where the corpus and outputs go (default: a temporary folder, removed).")
flags.DEFINE_integer("seed", 0, "Seed of the generated corpus.")
flags.DEFINE_integer("mel_pool", 512, "Distinct mel arrays the songs' files are hard links to.")
flags.DEFINE_integer("lightfm_epochs", 2, "LightFM epochs timed per thread count (extrapolated to 50).")
flags.DEFINE_integer("shard_songs", 2000, "Songs written to one timed shard (extrapolated to all songs).")
flags.DEFINE_integer("sample_songs", 3000, "Songs of the prepared sample the reader and train.py run on.")
flags.DEFINE_integer("embed_songs", 300, "Songs embedded by the exported encoder (extrapolated).")
flags.DEFINE_integer("annoy_seeds", 5000, "Seeds searched with Annoy (extrapolated to all seeds).")
flags.DEFINE_bool("train_py", True, "Time train.py's first step (a subprocess: minutes on a loaded CPU).")
FLAGS = flags.FLAGS

FULL = {"songs": 649_091, "playlists": 115_071, "entries": 5_230_000}
TOP_CODES = [f"GN{g:02d}00" for g in range(1, 31)]
DETAIL_CODES = [f"GN{g:02d}{d:02d}" for g in range(1, 31) for d in range(1, 8 + (g <= 14))][:224]
MIN_FRAMES, MAX_FRAMES = 1000, 1900


class PeakRss:
    """Peak VmRSS of this process while the `with` block runs, sampled every 20 ms (GB)."""

    def __enter__(self) -> "PeakRss":
        self.peak, self._stop = 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while True:
            with open("/proc/self/status") as f:
                kb = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            self.peak = max(self.peak, kb)
            if self._stop.wait(0.02):
                return

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def gb(self) -> float:
        return self.peak / 1e6


def report(stage: str, seconds: float, full_seconds: float | None, rss: PeakRss, note: str) -> None:
    """One stage's line: measured seconds, full-scale seconds, peak RSS, what was extrapolated."""
    full = f"{full_seconds:9.1f} s" if full_seconds is not None else "        -  "
    print(f"{stage:<34} {seconds:9.1f} s  full scale {full}  peak RSS {rss.gb:5.2f} GB  {note}", flush=True)


@contextlib.contextmanager
def timed(stage: str, full: "callable", note: str):
    """Times the block; `full(seconds)` gives the full-scale seconds (`note` says how)."""
    box = {}
    with PeakRss() as rss:
        start = time.perf_counter()
        yield box
        seconds = time.perf_counter() - start
    box["seconds"], box["full_seconds"] = seconds, full(seconds) if full else None
    report(stage, seconds, box["full_seconds"], rss, note.format(**box))


def generate(root: str, scale: float, seed: int, pool_size: int) -> dict:
    """Writes the Melon-format corpus the module docstring describes; returns its counts."""
    rng = np.random.default_rng(seed)
    n_songs, n_playlists = round(FULL["songs"] * scale), round(FULL["playlists"] * scale)
    genre_weight = 1.0 / np.arange(1, 31) ** 0.7
    top = rng.choice(30, n_songs, p=genre_weight / genre_weight.sum())
    details = {g: [c for c in DETAIL_CODES if c.startswith(TOP_CODES[g][:4])] for g in range(30)}
    second_top = np.where(rng.random(n_songs) < 0.08, rng.integers(0, 30, n_songs), -1)
    meta = []
    for song in range(n_songs):
        g = int(top[song])
        tops = [TOP_CODES[g]] + ([TOP_CODES[second_top[song]]] if second_top[song] >= 0 else [])
        dtl = [details[g][i] for i in sorted(set(rng.integers(0, len(details[g]), 1 + (song % 3 == 0)).tolist()))]
        meta.append({"id": song, "song_name": f"Song {song}", "album_id": song // 12, "artist_id_basket": [song // 40],
                     "issue_date": "20150101", "song_gn_gnr_basket": list(dict.fromkeys(tops)),
                     "song_gn_dtl_gnr_basket": dtl})
    names = {**{c: f"Genre {c}" for c in TOP_CODES}, **{c: f"Detail {c}" for c in DETAIL_CODES}}

    rank = rng.permutation(n_songs)
    weight = 1.0 / (rank + 10.0) ** 0.8
    lengths = np.clip(np.round(rng.gamma(1.3, FULL["entries"] / FULL["playlists"] / 1.3, n_playlists)), 1, 200)
    lengths = lengths.astype(np.int64)
    owner = np.repeat(np.arange(n_playlists), lengths)
    favourite = rng.choice(30, n_playlists, p=genre_weight / genre_weight.sum())[owner]
    songs = rng.choice(n_songs, len(owner), p=weight / weight.sum())
    in_genre = rng.random(len(owner)) < 0.6
    for g in range(30):
        members = np.flatnonzero(top == g)
        rows = np.flatnonzero(in_genre & (favourite == g))
        if len(members) and len(rows):
            songs[rows] = rng.choice(members, len(rows), p=weight[members] / weight[members].sum())
    order = np.lexsort((songs, owner))
    owner, songs = owner[order], songs[order]
    keep = np.ones(len(songs), dtype=bool)
    keep[1:] = (owner[1:] != owner[:-1]) | (songs[1:] != songs[:-1])
    owner, songs = owner[keep], songs[keep]
    bounds = np.searchsorted(owner, np.arange(n_playlists + 1))
    lists = [{"id": p, "plylst_title": f"Playlist {p}", "tags": ["tag"], "like_cnt": 1,
              "updt_date": "2020-01-01 00:00:00.000", "songs": songs[bounds[p]:bounds[p + 1]].tolist()}
             for p in range(n_playlists)]
    for name, value in (("song_meta.json", meta), ("genre_gn_all.json", names), ("train.json", lists)):
        with open(os.path.join(root, name), "w") as f:
            json.dump(value, f)

    pool = os.path.join(root, "mel_pool")
    os.makedirs(pool, exist_ok=True)
    kinds = rng.choice(4, n_songs, p=[0.99, 0.005, 0.003, 0.002])  # ok, missing, infinities, short
    paths = []
    for i in range(pool_size + 2):
        frames = 150 if i == pool_size + 1 else int(rng.integers(MIN_FRAMES, MAX_FRAMES + 1))
        mel = (rng.normal(-40, 12, (48, frames))).astype(np.float16)
        if i == pool_size:
            mel[:, ::97] = -np.inf  # 20 log10(0)
        paths.append(os.path.join(pool, f"{i}.npy"))
        np.save(paths[-1], mel)
    for song in range(n_songs):
        if kinds[song] == 1:
            continue
        target = paths[song % pool_size if kinds[song] == 0 else pool_size + kinds[song] - 2]
        path = playlist.mel_path(root, song)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.link(target, path)
    return {"songs": n_songs, "playlists": n_playlists, "entries": int(len(songs)),
            "broken": {"missing": int((kinds == 1).sum()), "infinities": int((kinds == 2).sum()),
                       "short": int((kinds == 3).sum())}}


def sample_corpus(root: str, sample: str, n_songs: int) -> None:
    """A Melon folder of the first `n_songs` songs (their playlists restricted to them, mels linked)."""
    os.makedirs(sample, exist_ok=True)
    meta = melon.load_json(os.path.join(root, "song_meta.json"))[:n_songs]
    lists = [{**p, "songs": [s for s in p["songs"] if s < n_songs]}
             for p in melon.load_json(os.path.join(root, "train.json"))]
    for name, value in (("song_meta.json", meta), ("train.json", [p for p in lists if len(p["songs"]) > 1])):
        with open(os.path.join(sample, name), "w") as f:
            json.dump(value, f)
    shutil.copy(os.path.join(root, "genre_gn_all.json"), sample)
    for song in range(n_songs):
        source = playlist.mel_path(root, song)
        if os.path.exists(source):
            os.makedirs(os.path.dirname(playlist.mel_path(sample, song)), exist_ok=True)
            os.link(source, playlist.mel_path(sample, song))


def run(work: str) -> None:
    scale = FLAGS.scale
    linear = lambda s: s / scale  # noqa: E731
    melon_dir, out = os.path.join(work, "melon"), os.path.join(work, "prepared")
    os.makedirs(melon_dir, exist_ok=True)
    with timed("generate corpus (not a stage)", None, "{songs:,} songs, {playlists:,} playlists, {entries:,} "
               "entries; broken mels {broken}") as box:
        box.update(generate(melon_dir, scale, FLAGS.seed, FLAGS.mel_pool))
    config = prepare.PrepareConfig(melon_dir=melon_dir, output_dir=out)
    folder = PreparedFolder(out)
    os.makedirs(os.path.dirname(folder.cf_vectors_path), exist_ok=True)

    with timed("prepare: read JSON", linear, "linear in entries"):
        inputs = prepare.MelonFolder.read(melon_dir, melon.PLAYLIST_CHOICES[config.playlists])
        meta, genre_names, playlists = inputs.meta, inputs.genre_names, inputs.playlists
    recipe = json.loads(json.dumps(fingerprint.fingerprint(melon_dir, inputs.playlist_files, config.fingerprinted())))
    fingerprint.write(out, recipe)
    with timed("prepare: song selection", linear, "linear in songs; kept {kept:,}, dropped {dropped}") as box:
        chosen = stages.select_songs(config, melon_dir, meta, genre_names, playlists)
        box.update(kept=len(chosen["songs"]), dropped=chosen["dropped"])
    songs = {int(s): codes for s, codes in chosen["songs"].items()}
    with timed("prepare: genre word2vec", linear, "x entries (the window, the longest sentence, grows too); "
               "{codes} codes, longest sentence {longest:,}") as box:
        vocab = stages.genre_vocabulary(config, melon_dir, playlists, songs)
        box.update(codes=len(vocab), longest=max(map(len, melon.playlist_sentences(playlists, songs))))
    genre_ids = {s: [vocab[c] for c in codes if c in vocab] for s, codes in songs.items()}
    with timed("prepare: iterative stratification", linear, "linear (issue: 3.9/8.5/16.7 s at 50k/100k/200k)"):
        ids = sorted(s for s, g in genre_ids.items() if g)
        split_ids = splits.stratified_split(ids, [[c for c in songs[s] if c in vocab] for s in ids], config.seed)
    with timed("prepare: CF matrix", linear, "linear; {rows:,} x {cols:,}, {nnz:,} entries") as box:
        allowed = {*split_ids["train"], *split_ids["validation"]}
        cf_lists = [p["songs"] for p in playlists if not allowed.isdisjoint(p["songs"])]
        matrix, cf_songs = cf_lightfm.interaction_matrix(cf_lists, allowed)
        box.update(rows=matrix.shape[0], cols=matrix.shape[1], nnz=matrix.nnz)
    epochs = FLAGS.lightfm_epochs
    for threads in (1, 2):
        with timed(f"LightFM WARP, {threads} thread(s)", lambda s: linear(s) * 50 / epochs,
                   f"{epochs} epochs timed, x 50 / {epochs} epochs, linear in entries"):
            vectors, _ = cf_lightfm.fit_vectors(matrix, epochs=epochs, threads=threads, seed=config.seed)
    cf_path = folder.cf_vectors_path
    np.save(cf_path, vectors)
    cf_rows = {s: r for r, s in enumerate(cf_songs.tolist())}

    n_all = sum(len(v) for v in split_ids.values())
    sample_ids = split_ids["train"][:FLAGS.shard_songs]
    job = shards.ShardJob(path=os.path.join(out, "timed.tfrecord"), song_ids=sample_ids,
                          genre_ids=[genre_ids[s] for s in sample_ids],
                          cf_rows=[cf_rows.get(s, -1) for s in sample_ids],
                          cf_path=cf_path, melon_dir=melon_dir, frames=config.frames, short=config.short)
    with timed("shard writing, 1 process", lambda s: s / len(sample_ids) * n_all / scale,
               "{n:,} songs timed, x all songs; {gb:.1f} GB of TFRecords at full scale (--frames=1300)") as box:
        stats = shards.write_shard(job)
        box.update(n=len(sample_ids), gb=os.path.getsize(job.path) / max(stats["count"], 1) * n_all / scale / 1e9)

    sample_dir, sample_out = os.path.join(work, "sample_melon"), os.path.join(work, "sample_prepared")
    sample_corpus(melon_dir, sample_dir, FLAGS.sample_songs)
    manifest = prepare.prepare(prepare.PrepareConfig(melon_dir=sample_dir, output_dir=sample_out, cf_epochs=1))
    n_batches = min(20, manifest["counts"]["train"] // 128 - 1)
    from cmir_tf.data import make_dataset
    with timed("reader: first batch of 128", None, "independent of the corpus size (nothing scans all records)"):
        batches = iter(make_dataset(sample_out, "train", 128, training=True, seed=0))
        next(batches)
    with timed(f"reader: {n_batches} batches of 128", None, "{rate:,.0f} examples/s") as box:
        start = time.perf_counter()
        for _ in range(n_batches):
            next(batches)
        box.update(rate=n_batches * 128 / (time.perf_counter() - start))
    if FLAGS.train_py:
        first_step_stage(sample_out, os.path.join(work, "model"))
    embed_seconds = embedding_stage(work, melon_dir, split_ids)
    protocols(melon_dir, playlists, split_ids, songs, vocab, embed_seconds)
    print(f"whole-run peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB (getrusage)")


def first_step_stage(sample_out: str, model_dir: str) -> None:
    """train.py end to end for one step of 64 (launch to exit, with one validation step and the export)."""
    train_py = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "train.py")
    with timed("train.py: 1 step of 64, end to end", None, "launch to exit: start-up, first step, 1 validation "
               "step, export; independent of the corpus size (steady steps: bench_training.py)"):
        done = subprocess.run([sys.executable, train_py, f"--data_dir={sample_out}", f"--model_dir={model_dir}",
                               "--batch_size=64", "--epochs=1", "--steps_per_epoch=1", "--validation_steps=1"],
                              capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"train.py failed ({done.returncode}): {done.stderr[-2000:]}")


def embedding_stage(work: str, melon_dir: str, split_ids: dict) -> float:
    """Seconds per song inside evaluate.py's path, after printing it against the exported model's own rate."""
    model_dir = export_audio_encoder(build_audio_encoder(), os.path.join(work, "export"), {"variant": "untrained"})
    embedder = SavedModelEmbedder(model_dir)
    batch = np.random.default_rng(0).normal(-40, 12, (BATCH_CHUNKS, 256, 48)).astype(np.float32)
    embedder.embed_both(batch)  # warm-up

    def model_rate(stage: str) -> float:
        with timed(stage, None, "{rate:.1f} chunks/s at {b} chunks a call") as box:
            start, calls = time.perf_counter(), 0
            while time.perf_counter() - start < 20 or calls < 3:
                embedder.embed_both(batch)
                calls += 1
            box.update(rate=calls * BATCH_CHUNKS / (time.perf_counter() - start), b=BATCH_CHUNKS)
        return box["rate"]

    before = model_rate("exported model alone (embed_mel)")
    ids = np.asarray(split_ids["test"][:FLAGS.embed_songs])
    playlist.embed_melon_songs(embedder, melon_dir, ids[:8], cache_dir=None, allow_missing=True, what="warm-up",
                               joint_too=True)
    chunks = sum(-(-np.load(playlist.mel_path(melon_dir, int(s))).shape[1] // 256) for s in ids
                 if os.path.exists(playlist.mel_path(melon_dir, int(s))))
    with PeakRss() as rss:
        start = time.perf_counter()
        vectors, _ = playlist.embed_melon_songs(embedder, melon_dir, ids, cache_dir=None, allow_missing=True,
                                                what="the benchmark", joint_too=True)
        seconds = time.perf_counter() - start
    after = model_rate("exported model alone, again")  # the two bracket the path: other jobs' load changes
    report("embedding inside evaluate.py", seconds, None, rss,
           f"{len(vectors)} songs, {chunks / seconds:.1f} chunks/s = {chunks / seconds / ((before + after) / 2):.0%} "
           f"of the model's own rate (mean of the two), {len(vectors) / seconds:.2f} songs/s, both outputs")
    return seconds / len(vectors)


def full_scale_search(stage: str, n_queries: float, n_candidates: float, dim: int, block: int = 2048,
                      precisions: tuple[str, ...] = ("float32",)) -> float:
    """Seconds of a batched top-100 search of `n_queries` against `n_candidates` (D = `dim`) at full size in the
    last of `precisions`: per precision, one batch of `block` queries against all candidates timed (after a
    warm-up batch), times the batches; a bf16 search's recall@100 against the float32 one on that batch."""
    rng = np.random.default_rng(2)
    candidates = rng.standard_normal((round(n_candidates), dim), dtype=np.float32)
    queries = rng.standard_normal((min(block, round(n_queries)), dim), dtype=np.float32)
    found = {}
    for precision in precisions:
        neighbours.batched_neighbours(queries[:64], candidates, 100, precision=precision)
        with timed(f"{stage}, {precision}", lambda s: s * n_queries / len(queries), "{q:,} queries x {c:,} "
                   "timed, x {n:,.0f} queries: {gflops:.0f} GFLOP/s{recall}") as box:
            start = time.perf_counter()
            found[precision] = neighbours.batched_neighbours(queries, candidates, 100, batch_size=1024,
                                                              precision=precision)[0]
            seconds = time.perf_counter() - start
            recall = ("" if precision == "float32" or "float32" not in found else
                      f", recall@100 vs float32 {neighbours.recall_at_k(found[precision], found['float32']):.4f}")
            box.update(q=len(queries), c=len(candidates), n=n_queries, recall=recall,
                       gflops=2 * len(queries) * len(candidates) * dim / seconds / 1e9)
    return box["full_seconds"]


def protocols(melon_dir: str, playlists: list[dict], split_ids: dict, songs: dict, vocab: dict,
              embed_seconds: float) -> None:
    """The playlist, cold-start and zero-shot protocols on random vectors (the embedding extrapolated)."""
    scale, rng = FLAGS.scale, np.random.default_rng(1)
    linear = lambda s: s / scale  # noqa: E731
    test_songs = np.asarray(sorted(split_ids["test"]), dtype=np.int64)
    lists = [np.asarray(p["songs"], dtype=np.int64) for p in playlists]
    with timed("playlist: build queries", linear, "{q:,} queries ({full:,.0f} at full scale), {s:,} seed songs, "
               "{c:,} candidates") as box:
        queries = playlist.build_queries(lists, test_songs)
        seed_songs = np.unique(np.concatenate(queries.seeds))
        seed_rows, truth_rows = playlist.rows_of(queries.seeds, seed_songs), playlist.rows_of(queries.truth, test_songs)
        box.update(q=len(queries.index), full=len(queries.index) / scale, s=len(seed_songs), c=len(test_songs))
    total = {"queries": box["full_seconds"]}
    n_embed = (len(seed_songs) + len(test_songs)) / scale
    total["embedding"] = embed_seconds * n_embed
    print(f"{'playlist: embedding (extrapolated)':<34} {'':>11}  full scale {embed_seconds * n_embed:9.1f} s  "
          f"{n_embed:,.0f} songs at {1 / embed_seconds:.2f} songs/s", flush=True)
    seeds = rng.standard_normal((len(seed_songs), 1024), dtype=np.float32)
    candidates = rng.standard_normal((len(test_songs), 1024), dtype=np.float32)
    with timed("playlist: exact search, 1024-d", None, "{s:,} x {c:,}, measured at this scale, precision auto") as box:
        hits, sims = neighbours.batched_neighbours(seeds, candidates, min(100, len(candidates)), precision="auto")
        box.update(s=len(seeds), c=len(candidates))
    precisions = tuple(dict.fromkeys(("float32", neighbours.resolve_search_precision("auto"))))
    full_search = full_scale_search(  # both precisions at full size, one batch each (cheap at any scale)
        "playlist: exact search, full size", len(seeds) / scale, len(candidates) / scale, 1024,
        precisions=precisions)
    total["exact search"] = box["seconds"] if scale >= 1 else full_search
    with timed("playlist: Annoy build (50 trees)", linear, "linear in candidates"):
        index = neighbours.build_annoy_index(candidates, 50)
    n_annoy = min(FLAGS.annoy_seeds, len(seeds))
    with timed("playlist: Annoy search, 2 threads", lambda s: s / n_annoy * len(seeds) / scale,
               "{n:,} seeds timed (search_k=2000), x all seeds") as box:
        neighbours.annoy_neighbours(index, seeds[:n_annoy], min(100, len(candidates)), 2000)
        box.update(n=n_annoy)
    with timed("playlist: ranking + scoring", linear, "linear in queries") as box:
        ranked = playlist.rank_candidates(hits, sims, seed_rows)
        playlist.score(ranked, truth_rows)
        playlist.score(playlist.random_rankings(len(candidates), len(truth_rows), 0), truth_rows)
    total["ranking"] = box["full_seconds"]

    ids = np.arange(len(playlists))
    vectors = {int(i): v for i, v in zip(ids, rng.standard_normal((len(ids), 128), dtype=np.float32))}
    with timed("cold start: queries + search 128-d", None, "{q:,} playlists x {c:,}, measured at this scale") as box:
        queries, truth, _ = cold_start.cold_start_queries(playlists, test_songs, lambda p: p["id"] in vectors)
        result = cold_start.cold_start_metrics(np.stack([vectors[p["id"]] for p in queries]),
                                               candidates[:, :128], playlist.rows_of(truth, test_songs))
        box.update(q=result["n_playlists"], c=result["n_candidates"])
    total["cold start"] = box["seconds"] if scale >= 1 else full_scale_search(
        "cold start: search, full size", result["n_playlists"] / scale, len(candidates) / scale, 128)
    with timed("zero-shot: scores + macro AUCs", linear, "{n:,} test songs x {v} codes") as box:
        labels = np.zeros((len(test_songs), len(vocab)), dtype=np.int64)
        for row, song in enumerate(test_songs.tolist()):
            labels[row, [vocab[c] - 1 for c in songs.get(song, ()) if c in vocab]] = 1
        codes = rng.standard_normal((len(vocab), 128), dtype=np.float32)
        macro_tagging_scores(labels, candidates[:, :128] @ codes.T)
        box.update(n=len(test_songs), v=len(vocab))
    total["zero-shot"] = box["full_seconds"]
    parts = ", ".join(f"{k} {v / 60:.0f} min" for k, v in total.items())
    print(f"full-scale evaluation (playlist + cold start + zero-shot, exact search), this CPU: "
          f"{sum(total.values()) / 3600:.1f} h ({parts}); the embedding reused from one pass", flush=True)


def main(argv: list[str]) -> None:
    del argv
    logging.set_verbosity(logging.WARNING)
    print(machine_summary())
    print(f"load average {os.getloadavg()[0]:.1f} at start; --scale={FLAGS.scale}", flush=True)
    if FLAGS.work_dir:
        os.makedirs(FLAGS.work_dir, exist_ok=True)
        run(FLAGS.work_dir)
    else:
        with tempfile.TemporaryDirectory(prefix="melon-scale-") as work:
            run(work)
    print(f"load average {os.getloadavg()[0]:.1f} at the end", flush=True)


if __name__ == "__main__":
    runner.run_main(main, "bench_melon_scale.py")
