"""Takes docs/explore.png: the `cmir-explore` page over an index (by default `make demo`'s GTZAN index) in
headless Chromium, after a playlist-tag query, a click on a song and a continuation of three seeds.

    python tests/explore_screenshot.py [demo_run/gtzan.idx [docs/explore.png [query]]]
"""

import os
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.dirname(HERE), HERE]  # this checkout's cmir_tf, then tests/browser.py

from browser import chromium  # noqa: E402
from test_explore import click_song, separate_songs, wait_for  # noqa: E402

from cmir_tf.explore import server  # noqa: E402
from cmir_tf.explore.explorer import open_explorer  # noqa: E402


def main(index_dir: str = "demo_run/gtzan.idx", out: str = "docs/explore.png", query: str = "운동 신나는") -> None:
    running = server.make_server(open_explorer(index_dir), "127.0.0.1", 0)
    threading.Thread(target=running.serve_forever, daemon=True).start()
    driver = chromium()
    try:
        driver.set_window_size(1280, 860)
        driver.get(f"http://127.0.0.1:{running.server_address[1]}/")
        wait_for(driver, lambda: driver.find_element("tag name", "body").get_attribute("data-ready"), 60)
        songs = separate_songs(driver, 4)
        for song in songs[1:]:
            click_song(driver, song, shift=True)
        driver.find_element("id", "continue").click()
        wait_for(driver, lambda: driver.find_elements("css selector", "#playlist li"))
        click_song(driver, songs[0])
        wait_for(driver, lambda: driver.find_elements("css selector", "#neighbours li"))
        driver.find_element("id", "q").send_keys(query + "\n")
        wait_for(driver, lambda: driver.find_elements("css selector", "#results li"))
        time.sleep(0.5)  # the last frame drawn
        driver.save_screenshot(out)
        print(f"wrote {out}")
    finally:
        driver.quit()
        running.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:])
