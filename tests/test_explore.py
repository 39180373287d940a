"""`cmir-explore`: the map stored in the index, the JSON API (in process), the HTTP server (ranges, refusals,
Ctrl-C) and the page in headless Chromium (`tests/browser.py`), all over one small index of generated songs."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import types
import urllib.error
import urllib.request

import numpy as np
import pytest
import soundfile as sf

import browser
from browser import chromium
from cmir_tf import errors
from cmir_tf.explore import api, projection, server
from cmir_tf.explore.explorer import MAX_K, MAX_SEEDS, Explorer, open_explorer
from cmir_tf.joint import JointSpace, unit_rows
from cmir_tf.search import build_index

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def index_dir(tag_model, tmp_path_factory) -> str:
    """An index of 17 generated 2 s songs (tones, square waves, noise, chirps at 4 pitches, one Korean file
    name) with the session's random `contr_cf_g_t` (genres and playlist tags)."""
    folder = tmp_path_factory.mktemp("explore_music")
    t = np.arange(32000) / 16000
    noise = np.random.default_rng(0).normal(size=t.size)
    for pitch in (110, 220, 440, 880):
        phase = 2 * np.pi * pitch * t
        for kind, wave in (("tone", np.sin(phase)), ("square", np.sign(np.sin(phase))),
                           ("noise", noise * np.sin(phase / 200) ** 2), ("chirp", np.sin(phase * (1 + t)))):
            sf.write(folder / f"{kind}_{pitch}.wav", (0.3 * wave).astype(np.float32), 16000)
    sf.write(folder / "운동 노래.flac", (0.2 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 16000)
    paths = sorted(str(p) for p in folder.iterdir())
    index = str(tmp_path_factory.mktemp("explore_index") / "music.idx")
    build_index(JointSpace(tag_model[1]), paths, index, n_trees=2)
    return index


@pytest.fixture(scope="module")
def explorer(index_dir) -> Explorer:
    return open_explorer(index_dir)


@pytest.fixture(scope="module")
def url(explorer):
    """The base URL of a server over `explorer`, on 127.0.0.1 and a free port, for the whole module."""
    running = server.make_server(explorer, "127.0.0.1", 0)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{running.server_address[1]}"
    running.shutdown()
    running.server_close()


def fetch(url: str, headers: dict | None = None, method: str = "GET") -> tuple[int, dict, bytes]:
    """(status, headers, body) of a request; error statuses are returned, not raised."""
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def get(explorer: Explorer, route: str, query: str = "") -> tuple[int, dict | str]:
    found = api.answer(explorer, route, query)
    text = found.body.decode("utf-8")
    return found.status, json.loads(text) if found.content_type == api.JSON else text


# The map.

def test_the_map_is_computed_once_stored_in_the_index_and_recomputed_when_damaged(explorer, index_dir, capsys):
    stored = os.path.join(index_dir, projection.MAP_FILE)
    points = np.load(stored)
    assert points.shape == (17, 2) and np.isfinite(points).all()
    again = projection.index_map(index_dir, explorer.unit)
    assert "mapping" not in capsys.readouterr().err and np.array_equal(again, points)
    np.save(stored, points[:3])  # another index's size
    assert projection.index_map(index_dir, explorer.unit).shape == (17, 2)
    assert "mapping 17 songs" in capsys.readouterr().err and np.load(stored).shape == (17, 2)


def test_the_tsne_map_keeps_neighbourhoods():
    rng = np.random.default_rng(0)
    centres, cluster = rng.normal(size=(3, 128)), np.repeat(np.arange(3), 50)
    points = projection.project_2d(centres[cluster] + 0.3 * rng.normal(size=(150, 128)))
    assert points.shape == (150, 2) and np.isfinite(points).all()
    distances = ((points[:, None] - points[None]) ** 2).sum(-1) + np.diag(np.full(150, np.inf))
    nearest = np.argsort(distances, axis=1)[:, :5]
    assert (cluster[nearest] == cluster[:, None]).mean() > 0.95


# The JSON API, in process.

def test_songs_are_coloured_by_their_top_zero_shot_genre(explorer):
    status, songs = get(explorer, "/api/songs")
    assert status == 200 and songs["count"] == 17 and songs["colour_by"] == "genre"
    assert len(songs["x"]) == len(songs["y"]) == len(songs["label"]) == 17
    assert min(songs["x"] + songs["y"]) >= 0 and max(songs["x"] + songs["y"]) <= 1
    assert sum(entry["count"] for entry in songs["legend"]) == 17
    assert all(0 <= label < len(songs["legend"]) for label in songs["label"])
    scores = explorer.unit @ explorer.genres.T
    top = explorer.space.vocabulary.codes[int(np.argmax(scores[0]))]
    assert songs["legend"][songs["label"][0]]["name"].split()[0] in (top, "other")
    assert "운동 노래.flac" in songs["names"] and songs["model"] == {"variant": "contr_cf_g_t", "genres": True,
                                                                  "tags": True}


def test_a_song_has_its_genres_tags_and_nearest_songs_by_cosine(explorer):
    status, song = get(explorer, "/api/song", "id=3&k=5")
    assert status == 200 and song["id"] == 3 and len(song["genres"]) == 3 and len(song["tags"]) == 5
    cosines = explorer.unit @ explorer.unit[3]
    expected = [i for i in np.argsort(-cosines) if i != 3][:5]
    assert [n["id"] for n in song["neighbours"]] == expected
    assert [n["cosine"] for n in song["neighbours"]] == pytest.approx(cosines[expected], abs=1e-4)
    assert get(explorer, "/api/song", "id=3&k=0")[1]["neighbours"] == []
    assert len(get(explorer, "/api/song", f"id=3&k={MAX_K}")[1]["neighbours"]) == 16


def test_a_query_of_tags_and_genres_ranks_songs_and_names_unknown_words(explorer):
    tag, code = explorer.space.tag_vocabulary[0], explorer.space.vocabulary.codes[1]
    status, found = get(explorer, "/api/query", f"q={tag}+{code.lower()}+zzqx&k=4")
    assert status == 200 and found["tags"] == [tag] and found["genres"] == [code] and found["unknown"] == ["zzqx"]
    query = unit_rows((explorer.tags[0] + explorer.genres[1])[None] / 2)[0]
    assert [r["id"] for r in found["results"]] == list(np.argsort(-(explorer.unit @ query))[:4])
    status, refused = get(explorer, "/api/query", "q=zzqx+qqzz")
    assert status == 400 and "zzqx, qqzz" in refused["error"]


def test_a_continuation_follows_the_papers_protocol_and_downloads_as_m3u(explorer):
    status, found = get(explorer, "/api/continue", "ids=0,5&k=6")
    results = found["results"]
    assert status == 200 and len(results) == 6 and not {0, 5} & {r["id"] for r in results}
    assert [r["votes"] for r in results] == sorted((r["votes"] for r in results), reverse=True)
    assert all(r["votes"] == 2 for r in results)  # 17 songs: every seed retrieves every other song
    summed = (explorer.unit[[r["id"] for r in results]] @ explorer.unit[[0, 5]].T).sum(axis=1)
    assert list(summed) == sorted(summed, reverse=True)  # ties broken by the summed cosine
    status, m3u = get(explorer, "/api/continue.m3u", "ids=0,5&k=6")
    lines = m3u.splitlines()
    assert status == 200 and lines[0] == "#EXTM3U"
    assert [line for line in lines if not line.startswith("#")] == [
        explorer.paths[i] for i in [0, 5, *(r["id"] for r in results)]]


@pytest.mark.parametrize("route, query, status, says", [
    ("/api/song", "id=17", 404, "no song 17"),
    ("/api/song", "id=-1", 400, "whole number"),
    ("/api/song", "id=abc", 400, "whole number"),
    ("/api/song", "id=1e3", 400, "whole number"),
    ("/api/song", "id=99999999999999999999", 400, "whole number"),
    ("/api/song", "", 400, "missing parameter 'id'"),
    ("/api/song", "id=1&id=2", 400, "given 2 times"),
    ("/api/song", "id=1&k=101", 400, "k must be 0 to 100"),
    ("/api/song", "id=1&path=/etc/passwd", 400, "unknown parameter 'path'"),
    ("/api/song", "a=1&b=2&c=3&d=4&e=5", 400, "malformed query string"),
    ("/api/query", "q=%ff%fe", 400, "malformed query string"),
    ("/api/query", "q=" + "a" * 501, 400, "at most 500"),
    ("/api/query", "q=", 400, "the query is empty"),
    ("/api/query", "q=x&k=0", 400, "k must be 1 to 100"),
    ("/api/continue", "ids=", 400, "whole number"),
    ("/api/continue", "ids=1,1", 400, "repeat"),
    ("/api/continue", "ids=1,99", 404, "no song 99"),
    ("/api/continue", "ids=" + ",".join(map(str, range(MAX_SEEDS + 1))), 400, "give 1 to 100"),
    ("/api/continue.m3u", "ids=1&k=1000", 400, "k must be 1 to 100"),
    ("/api/songs", "x=1", 400, "unknown parameter"),
    ("/api/admin", "", 404, "no such endpoint"),
])
def test_bad_requests_get_a_4xx_with_a_message(explorer, route, query, status, says):
    found, body = get(explorer, route, query)
    assert found == status and says in body["error"]


def test_without_genre_signatures_songs_are_coloured_by_clusters_and_queries_refused():
    rng = np.random.default_rng(0)
    vectors = np.concatenate([rng.normal(loc, 0.1, size=(20, 8)) for loc in (-1, 0, 1)]).astype(np.float32)
    index = types.SimpleNamespace(paths=[f"/music/{i}.wav" for i in range(60)], vectors=vectors)
    space = types.SimpleNamespace(has_genres=False, has_tags=False, variant="contr_cf")
    songs = json.loads(Explorer(index, space, vectors[:, :2]).songs_json)
    assert songs["colour_by"] == "cluster" and len(songs["legend"]) == 10
    assert songs["legend"][0]["name"].startswith("cluster")
    found, body = get(Explorer(index, space, vectors[:, :2]), "/api/query", "q=rock")
    assert found == 400 and "neither playlist tags nor genres" in body["error"]


def test_an_index_that_is_not_there_is_an_input_error_and_a_folder_that_is_no_index_a_usage_error(tmp_path):
    with pytest.raises(errors.MissingPathError, match="no such file or directory"):
        open_explorer(str(tmp_path / "nothing.idx"))
    with pytest.raises(errors.UsageError, match="not a cmir-search index"):
        open_explorer(str(tmp_path))
    with pytest.raises(errors.UsageError, match="--port"):
        server.ExploreConfig(str(tmp_path), port=70000)
    assert server.is_loopback("127.0.0.1") and server.is_loopback("::1") and not server.is_loopback("0.0.0.0")


# The HTTP server.

def test_audio_is_served_by_song_id_with_byte_ranges(url, explorer):
    content = open(explorer.paths[2], "rb").read()
    status, headers, body = fetch(f"{url}/audio/2")
    assert status == 200 and body == content and headers["Accept-Ranges"] == "bytes"
    assert headers["Content-Type"] in ("audio/x-wav", "audio/wav")
    status, headers, body = fetch(f"{url}/audio/2", {"Range": "bytes=100-199"})
    assert status == 206 and body == content[100:200] and headers["Content-Range"] == f"bytes 100-199/{len(content)}"
    assert fetch(f"{url}/audio/2", {"Range": "bytes=-10"})[2] == content[-10:]
    assert fetch(f"{url}/audio/2", {"Range": "bytes=50-"})[2] == content[50:]
    assert fetch(f"{url}/audio/2", {"Range": f"bytes=100-{10 * len(content)}"})[2] == content[100:]
    for bad in (f"bytes={len(content)}-", "bytes=9-3", "bytes=-0", "bytes=0-1,5-6", "lines=1-2", "bytes=-"):
        status, headers, body = fetch(f"{url}/audio/2", {"Range": bad})
        assert status == 416 and headers["Content-Range"] == f"bytes */{len(content)}", bad
        assert "cannot serve the range" in json.loads(body)["error"]


@pytest.mark.parametrize("path, status", [
    ("/audio/17", 404), ("/audio/-1", 400), ("/audio/..%2F..%2Fetc%2Fpasswd", 400), ("/audio/%2Fetc%2Fpasswd", 400),
    ("/static/../explore/server.py", 404), ("/static/server.py", 404), ("/etc/passwd", 404), ("/api/", 404),
])
def test_no_other_file_is_served(url, path, status):
    found, headers, body = fetch(url + path)
    assert found == status and headers["Content-Type"].startswith("application/json") and json.loads(body)["error"]


def test_only_get_is_answered_and_the_page_loads_nothing_from_elsewhere(url):
    for method in ("POST", "PUT", "DELETE", "HEAD", "BREW"):
        status, headers, _ = fetch(f"{url}/api/songs", method=method)
        assert status == 405, method
    status, headers, page = fetch(url + "/")
    assert status == 200 and "default-src 'none'" in headers["Content-Security-Policy"]
    for name in ("index.html", "explore.js", "explore.css"):
        text = open(os.path.join(REPO, "cmir_tf", "explore", "static", name), encoding="utf-8").read()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, name
    assert fetch(url + "/static/explore.js")[0] == 200 and fetch(url + "/static/explore.css")[0] == 200


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n", b"414"),
    (b"GET /api/songs HTTP/1.1\r\nX: " + b"y" * 70000 + b"\r\n\r\n", b"431"),
])
def test_oversized_requests_get_a_json_4xx(url, request_bytes, status):
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(request_bytes)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            block = connection.recv(65536)
            if not block:
                break
            answer += block
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split()[1] == status and b"application/json" in head and json.loads(body)["error"]


def test_the_command_prints_its_url_serves_and_stops_on_ctrl_c_in_one_line(index_dir):
    process = subprocess.Popen([sys.executable, "-m", "cmir_tf", "explore", f"--index={index_dir}", "--port=0"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "17 songs of" in line and "http://127.0.0.1:" in line, line + process.stderr.read()
        address = line.split("at ")[1].split()[0]
        assert json.loads(fetch(address + "api/songs")[2])["count"] == 17
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130 and err.strip().splitlines() == ["cmir-explore: interrupted"]


# The page, in headless Chromium: one browser for these tests.

def test_a_missing_browser_fails_the_browser_tests_under_ci_and_skips_them_elsewhere(monkeypatch):
    monkeypatch.setattr(browser, "CHROMIUM", "/nonexistent/chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="must run under CI: no /nonexistent/chromium"):
        browser.chromium()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium chromium-driver"):
        browser.chromium()


@pytest.fixture(scope="module")
def page(url, tmp_path_factory):
    """A headless Chromium showing the page, ready (the map loaded)."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver = chromium(str(tmp_path_factory.mktemp("chromium")))
    try:
        driver.get(url + "/")
        WebDriverWait(driver, 30).until(lambda d: d.find_element("tag name", "body").get_attribute("data-ready"))
        yield driver
    finally:
        driver.quit()


def wait_for(driver, condition, timeout=20):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(lambda d: condition())


def separate_songs(driver, n: int) -> list[int]:
    """`n` songs drawn at least 12 CSS pixels from any other, so that a click at one hits it."""
    canvas = driver.find_element("id", "map")
    points = np.array([driver.execute_script("return window.cmirExplore.cssPoint(arguments[0])", i)
                       for i in range(int(canvas.get_attribute("data-drawn")))])
    gaps = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1)) + np.diag(np.full(len(points), np.inf))
    found = [int(i) for i in np.flatnonzero(gaps.min(axis=1) > 12)][:n]
    assert len(found) == n, "the map's songs overlap"
    return found


def pointing_at(driver, song: int):
    """ActionChains with the mouse moved over `song`'s point."""
    from selenium.webdriver.common.action_chains import ActionChains

    canvas = driver.find_element("id", "map")
    x, y = driver.execute_script("return window.cmirExplore.cssPoint(arguments[0])", song)
    return ActionChains(driver).move_to_element_with_offset(
        canvas, round(x - canvas.size["width"] / 2), round(y - canvas.size["height"] / 2))


def click_song(driver, song: int, shift: bool = False) -> None:
    from selenium.webdriver.common.keys import Keys

    actions = pointing_at(driver, song)
    if shift:
        actions = actions.key_down(Keys.SHIFT).click().key_up(Keys.SHIFT)
    else:
        actions = actions.click()
    actions.perform()


def test_the_page_draws_every_song_of_the_index_with_a_legend(page):
    assert page.find_element("id", "map").get_attribute("data-drawn") == "17"
    assert "17 songs" in page.find_element("id", "summary").text
    assert len(page.find_elements("css selector", "#legend li")) >= 1


def test_hover_names_a_song_its_genres_and_tags_a_click_plays_it_and_lists_its_neighbours(page, explorer):
    song = separate_songs(page, 1)[0]
    pointing_at(page, song).perform()
    tip = page.find_element("id", "tip")
    details = explorer.song(song, 0)
    wait_for(page, lambda: tip.is_displayed() and f"#{details['tags'][0]['tag']}" in tip.text)
    assert explorer.names[song] in tip.text and details["genres"][0]["code"] in tip.text
    click_song(page, song)
    player = page.find_element("id", "player")
    wait_for(page, lambda: (player.get_attribute("src") or "").endswith(f"/audio/{song}"))
    wait_for(page, lambda: len(page.find_elements("css selector", "#neighbours li a")) == 10)
    listed = [int(a.get_attribute("data-id")) for a in page.find_elements("css selector", "#neighbours li a")]
    assert listed == [n["id"] for n in explorer.song(song, 10)["neighbours"]]
    page.find_elements("css selector", "#neighbours li a")[0].click()  # a neighbour is playable in turn
    wait_for(page, lambda: player.get_attribute("src").endswith(f"/audio/{listed[0]}"))


def test_a_tag_query_highlights_and_lists_songs_and_names_unknown_words(page, explorer):
    box = page.find_element("id", "q")
    box.clear()
    box.send_keys(f"{explorer.space.tag_vocabulary[0]} zzqx\n")
    wait_for(page, lambda: len(page.find_elements("css selector", "#results li")) == 17)
    assert page.find_element("id", "map").get_attribute("data-highlighted") == "17"
    assert "unknown words: zzqx" in page.find_element("id", "query-note").text
    box.clear()
    box.send_keys("zzqx\n")
    wait_for(page, lambda: "zzqx" in page.find_element("id", "query-note").text and
             not page.find_elements("css selector", "#results li"))


def test_shift_clicked_seeds_continue_into_a_downloadable_m3u(page, explorer):
    seeds = separate_songs(page, 2)
    for song in seeds:
        click_song(page, song, shift=True)
    wait_for(page, lambda: page.find_element("id", "continue").is_enabled())
    page.find_element("id", "continue").click()
    wait_for(page, lambda: page.find_element("id", "m3u").is_displayed())
    assert len(page.find_elements("css selector", "#playlist li")) == 15
    status, headers, body = fetch(page.find_element("id", "m3u").get_attribute("href"))
    lines = body.decode("utf-8").splitlines()
    assert status == 200 and "attachment" in headers["Content-Disposition"] and lines[0] == "#EXTM3U"
    assert [line for line in lines if not line.startswith("#")][:2] == [explorer.paths[s] for s in seeds]
