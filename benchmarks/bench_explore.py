"""`cmir-explore` at 50,000 songs: the map's time and the JSON endpoints' latencies, on a synthetic index.

No audio is needed: `n_songs` 128-d vectors drawn around `n_clusters` random centres are written as an index
(`cmir_tf.search.write_index`, paths that do not exist) of a freshly initialised `contr_cf_g_t` exported with
a Melon-sized vocabulary (254 genre codes, 3,000 playlist tags), or of `--model`. Timed:

- the 2-D map (`cmir_tf.explore.projection`, computed and stored), wall and CPU time;
- opening the explorer (the map read, zero-shot colours, the map's JSON);
- every endpoint over HTTP on 127.0.0.1 from this process (`requests` times each; median, 95th percentile and
  maximum, in ms), and the median CPU time of the same answers computed in process (random song ids, random
  tag pairs, 10 and 100 random seeds);
- where Chromium is installed, the page's load, a redraw of the 50,000 points and a hover's hit test.

  python benchmarks/bench_explore.py [--n_songs=50000 --requests=50 --model=DIR --work_dir=DIR]
"""

from __future__ import annotations

from cmir_tf import runtime
from cmir_tf.cli import runner

runtime.configure()  # first, as every cmir-tf command: oneDNN on x86 and quiet logs, before TensorFlow loads

# ruff: noqa: E402
import json
import os
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import numpy as np
from absl import flags

from cmir_tf.explore import api, projection, server
from cmir_tf.explore.explorer import open_explorer
from cmir_tf.joint import JointSpace
from cmir_tf.search import write_index
from cmir_tf.training.precision import machine_summary

flags.DEFINE_integer("n_songs", 50_000, "Songs in the synthetic index.")
flags.DEFINE_integer("n_clusters", 300, "Clusters the synthetic embeddings are drawn around.")
flags.DEFINE_integer("requests", 50, "Requests timed per endpoint.")
flags.DEFINE_string("model", None, "An exported contrastive model (default: a fresh contr_cf_g_t, untrained).")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_string("work_dir", None, "Where the model and index go, reused by a later run (its map read, not "
                    "computed); default: a temporary folder.")
FLAGS = flags.FLAGS

GENRES, TAGS, WORD2VEC_DIM = 254, 3000, 64


def untrained_model(folder: str) -> str:
    """A freshly initialised `contr_cf_g_t` with `GENRES` genre codes and `TAGS` playlist tags, exported."""
    import keras

    from cmir_tf.export import export_audio_encoder
    from cmir_tf.export.genre_vocabulary import GenreVocabulary
    from cmir_tf.models import build_variant

    keras.utils.set_random_seed(FLAGS.seed)
    rng = np.random.default_rng(FLAGS.seed)
    word2vec = {n: np.vstack([np.zeros((1, WORD2VEC_DIM)), rng.normal(size=(n, WORD2VEC_DIM))]).astype(np.float32)
                for n in (GENRES, TAGS)}
    model = build_variant("contr_cf_g_t", word2vec[GENRES], dropout=0.0, tag_word2vec=word2vec[TAGS])
    codes = tuple(f"GN{i // 10 + 1:02d}{i % 10:02d}" for i in range(GENRES))
    return export_audio_encoder(
        model.audio_encoder, os.path.join(folder, "model"), {"variant": "contr_cf_g_t"},
        genre_encoder=model.genre_encoder, cf_encoder=model.cf_encoder,
        vocabulary=GenreVocabulary(codes, tuple(f"genre {i}" for i in range(GENRES))),
        tag_encoder=model.tag_encoder, tags=tuple(f"tag{i}" for i in range(TAGS)))


def synthetic_vectors(rng: np.random.Generator) -> np.ndarray:
    centres = rng.standard_normal((FLAGS.n_clusters, 128)).astype(np.float32)
    cluster = rng.integers(FLAGS.n_clusters, size=FLAGS.n_songs)
    return centres[cluster] + 0.7 * rng.standard_normal((FLAGS.n_songs, 128)).astype(np.float32)


def latencies(url: str) -> list[float]:
    """Milliseconds of each GET of `url` (built per request)."""
    found = []
    for _ in range(FLAGS.requests):
        start = time.perf_counter()
        with urllib.request.urlopen(url(), timeout=60) as response:
            response.read()
            assert response.status == 200, url
        found.append(1000 * (time.perf_counter() - start))
    return found


def answer_cpu(explorer, url) -> list[float]:
    """CPU milliseconds (this process, all threads) of each answer computed in process, without HTTP: what
    a request costs whatever else the machine runs."""
    found = []
    for _ in range(FLAGS.requests):
        parts = urllib.parse.urlsplit(url())
        start = time.process_time()
        assert api.answer(explorer, parts.path, parts.query).status == 200
        found.append(1000 * (time.process_time() - start))
    return found


def main(argv: list[str]) -> None:
    runner.no_arguments(argv)
    rng = np.random.default_rng(FLAGS.seed)
    print(machine_summary())
    with tempfile.TemporaryDirectory(prefix="bench_explore-") as scratch:
        folder = FLAGS.work_dir or scratch
        index_dir = os.path.join(folder, "songs.idx")
        if not os.path.exists(index_dir):
            space = JointSpace(FLAGS.model or untrained_model(folder))
            paths = [f"/synthetic/song{i:06d}.wav" for i in range(FLAGS.n_songs)]
            write_index(index_dir, synthetic_vectors(rng), paths, space, n_trees=2)
        space = JointSpace(json.load(open(os.path.join(index_dir, "index.json")))["model"])
        stored = os.path.exists(os.path.join(index_dir, projection.MAP_FILE))
        start, cpu = time.perf_counter(), time.process_time()
        projection.index_map(index_dir, np.load(os.path.join(index_dir, "songs.npy")))
        print(f"map of {FLAGS.n_songs} songs {'read' if stored else 'computed'}: {time.perf_counter() - start:.1f} s "
              f"wall, {time.process_time() - cpu:.1f} s CPU (all threads)")
        start = time.perf_counter()
        explorer = open_explorer(index_dir, space.model_dir)
        print(f"opening the explorer (map read, zero-shot colours, the map's JSON of "
              f"{len(explorer.songs_json) / 1e6:.1f} MB): {time.perf_counter() - start:.1f} s")
        running = server.make_server(explorer, "127.0.0.1", 0)
        threading.Thread(target=running.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{running.server_address[1]}"
        song = lambda: int(rng.integers(FLAGS.n_songs))  # noqa: E731
        seeds = lambda n: ",".join(map(str, rng.choice(FLAGS.n_songs, n, replace=False)))  # noqa: E731
        tags = lambda: urllib.parse.quote(" ".join(rng.choice(space.tag_vocabulary, 2)))  # noqa: E731
        endpoints = {
            "/api/songs": lambda: f"{base}/api/songs",
            "/api/song?id&k=10": lambda: f"{base}/api/song?id={song()}&k=10",
            "/api/query (2 tags, k=20)": lambda: f"{base}/api/query?q={tags()}&k=20",
            "/api/continue (10 seeds, k=20)": lambda: f"{base}/api/continue?ids={seeds(10)}&k=20",
            "/api/continue (100 seeds, k=100)": lambda: f"{base}/api/continue?ids={seeds(100)}&k=100",
            "/api/continue.m3u (10 seeds)": lambda: f"{base}/api/continue.m3u?ids={seeds(10)}&k=20",
        }
        print(f"| endpoint, {FLAGS.n_songs} songs | median ms | p95 ms | max ms | CPU ms, median |\n"
              "|---|---|---|---|---|")
        for name, url in endpoints.items():
            found, cpu = latencies(url), answer_cpu(explorer, url)
            print(f"| {name} | {np.median(found):.1f} | {np.percentile(found, 95):.1f} | {max(found):.1f} | "
                  f"{np.median(cpu):.1f} |")
        page_timings(base)
        running.shutdown()
        running.server_close()


HOVER = """const map = document.getElementById("map"), box = map.getBoundingClientRect(), found = [];
for (let i = 0; i < 20; i++) {
  const started = performance.now();
  map.dispatchEvent(new MouseEvent("mousemove", {clientX: box.left + box.width * (i + 1) / 21,
                                                 clientY: box.top + box.height / 2, bubbles: true}));
  found.push(performance.now() - started);
}
found.sort((a, b) => a - b);
return found[10];"""


def page_timings(base: str) -> None:
    """In headless Chromium where it is installed (tests/browser.py): the page's load, a full redraw of the map
    and a hover's hit test, in ms."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
    import browser

    if browser.missing():
        print(f"page timings skipped: {browser.missing()}")
        return
    driver = browser.chromium()
    try:
        start = time.perf_counter()
        driver.get(base + "/")
        while not driver.find_element("tag name", "body").get_attribute("data-ready"):
            time.sleep(0.01)
        loaded = 1000 * (time.perf_counter() - start)
        drawn = driver.find_element("id", "map").get_attribute("data-draw-ms")
        print(f"page in headless Chromium: ready in {loaded:.0f} ms; a full redraw of the map {drawn} ms; "
              f"a hover's hit test {driver.execute_script(HOVER):.1f} ms (median of 20)")
    finally:
        driver.quit()


if __name__ == "__main__":
    runner.run_main(main, "bench_explore")
