"""One headless Chromium per test session for the browser tests (starting one costs ~2 s)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.ui.browser import find_browser, start_browser


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    found = find_browser()
    if isinstance(found, str):
        pytest.skip(found)
    driver = start_browser(*found)
    driver.set_script_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
