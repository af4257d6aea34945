"""Headless Chromium for the UI tests (Debian's `chromium` + `chromium-driver`, driven by selenium).

Without a browser the browser tests skip and say why; `.ci/run` installs both packages so CI
never skips. Screenshots are judged by the browser itself: the PNG is decoded on a canvas and its
distinct colours and non-white share counted (no image library needed). With `UI_SCREENSHOTS_DIR`
set, each view is also saved there as a full-page PNG (how `docs/*.png` are made).
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1400,1000", "--hide-scrollbars",
)


def find_browser() -> tuple[str, str] | str:
    """(chromium, chromedriver) paths, or the reason the browser tests cannot run."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        missing = " and ".join(n for n, p in (("chromium", chromium), ("chromedriver", driver)) if p is None)
        return (f"headless browser tests skipped: {missing} not found on PATH "
                "(apt-get install -y chromium chromium-driver; .ci/run installs them)")
    return chromium, driver


def start_browser(chromium: str, driver_path: str) -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='ui-tests-chromium-')}")
    return webdriver.Chrome(service=Service(driver_path), options=options)


MAX_DOC_HEIGHT = 2200  # README pictures show the top of a long report, not all of it

_IMAGE_STATS = """
var done = arguments[arguments.length - 1];
var img = new Image();
img.onload = function () {
  var canvas = document.createElement("canvas");
  canvas.width = img.width; canvas.height = img.height;
  var g = canvas.getContext("2d");
  g.drawImage(img, 0, 0);
  var d = g.getImageData(0, 0, canvas.width, canvas.height).data;
  var colors = new Set(), ink = 0, n = 0;
  for (var i = 0; i < d.length; i += 4 * 5) {
    n += 1;
    colors.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
    if (d[i] < 235 || d[i + 1] < 235 || d[i + 2] < 235) { ink += 1; }
  }
  done({colors: colors.size, ink: ink / n, width: canvas.width, height: canvas.height});
};
img.onerror = function () { done({error: "the PNG did not decode"}); };
img.src = "data:image/png;base64," + arguments[0];
"""


def image_stats(driver: Any, png: bytes) -> dict[str, Any]:
    """Distinct colours and the share of non-white pixels of a PNG, decoded in a scratch tab."""
    original = driver.current_window_handle
    driver.switch_to.new_window("tab")
    try:
        driver.get("about:blank")
        return dict(driver.execute_async_script(_IMAGE_STATS, base64.b64encode(png).decode()))
    finally:
        driver.close()
        driver.switch_to.window(original)


def save_for_docs(driver: Any, name: str) -> None:
    """Full-page PNG into $UI_SCREENSHOTS_DIR (unset: nothing is written), via Chromium's own
    screenshot of the whole layout (a window screenshot stops at the viewport)."""
    target = os.environ.get("UI_SCREENSHOTS_DIR")
    if not target:
        return
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], MAX_DOC_HEIGHT),
                 "scale": 1},
    })
    Path(target).mkdir(parents=True, exist_ok=True)
    (Path(target) / name).write_bytes(base64.b64decode(shot["data"]))
