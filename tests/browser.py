"""Headless Chromium through Selenium, for the tests of web pages and the scripts that take screenshots.

Debian's `chromium` and `chromium-driver` packages (`.ci/run` installs them); nothing is downloaded. Without
them, `chromium()` skips the test, or fails it under `CI=true`, where the browser must be there.
"""

import os
import shutil
import tempfile

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Flags that run Chromium as root in a container, offline and quiet, with no state from other runs.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required", "--window-size=1280,800")


def missing() -> str | None:
    """Why the browser cannot run here, or None."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    absent = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    return f"no {', '.join(absent)} (apt-get install chromium chromium-driver)" if absent else None


def chromium(profile_dir: str | None = None):
    """A started headless Chromium (Selenium WebDriver) with a fresh profile; the caller quits it."""
    reason = missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser tests must run under CI: {reason}")
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile_dir or tempfile.mkdtemp(prefix='chromium-')}")
    return webdriver.Chrome(service=Service(shutil.which(CHROMEDRIVER) or CHROMEDRIVER), options=options)
