"""Playwright in Debian's Chromium against a real ``streamlit run app.py``.

One Streamlit server per test module (starting one costs seconds on 2 cores); before each test
the module's database file is replaced by a fresh copy of the small demo store. That works
because the app opens the store per rerun and never holds the file between interactions.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--disable-quic",
]
SERVER_START_TIMEOUT_S = 60
IDLE_TIMEOUT_MS = 60_000
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"

pytestmark = pytest.mark.e2e


@dataclass
class Server:
    url: str
    db: Path
    proc: subprocess.Popen[bytes]
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/test.sh`, which installs it.")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(demo_db_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("server")
    db = tmp / "relmark.duckdb"
    shutil.copy(demo_db_template, db)
    port = _free_port()
    log = tmp / "streamlit.log"
    env = {**os.environ, "RELMARK_DB": str(db)}
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"streamlit did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    srv = Server(url=url, db=db, proc=proc, log=log)
    yield srv
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def fresh_db(server: Server, demo_db_template: Path) -> Path:
    """Give this test its own copy of the demo store (the server opens it on the next rerun)."""
    shutil.copy(demo_db_template, server.db)
    return server.db


@pytest.fixture
def page(browser: Browser, server: Server, fresh_db: Path) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(IDLE_TIMEOUT_MS)
    yield pg
    context.close()


SETTLE_MS = 400


def wait_idle(pg: Page) -> None:
    """Wait until the rerun triggered by the last action has finished and the page has drawn it.

    The script-state flag flips before the browser has drawn everything (components load
    lazily), so also wait until the main area's text and the sidebar stop changing.
    """
    pg.wait_for_timeout(150)  # let a just-triggered rerun start
    pg.wait_for_selector(IDLE, timeout=IDLE_TIMEOUT_MS)
    pg.wait_for_function(
        """(settle) => {
            const app = document.querySelector("[data-testid='stApp']");
            const text = document.body.innerText + (app ? app.getAttribute('data-test-script-state') : '');
            const now = Date.now();
            if (window.__rmText !== text) { window.__rmText = text; window.__rmSince = now; return false; }
            return now - window.__rmSince >= settle
                && !document.querySelector("[data-stale='true']")
                && app && app.getAttribute('data-test-script-state') === 'notRunning';
        }""",
        arg=SETTLE_MS,
        timeout=IDLE_TIMEOUT_MS,
        polling=100,
    )


def open_url(pg: Page, url: str) -> None:
    """Open a URL and wait until its page has rendered (every page has a title)."""
    pg.goto(url)
    pg.wait_for_selector("[data-testid='stMain'] h1", timeout=IDLE_TIMEOUT_MS)
    wait_idle(pg)


def open_app(pg: Page, server: Server, path: str = "") -> None:
    open_url(pg, f"{server.url}/{path}")


def metric_values(pg: Page, *, wait: bool = True) -> list[str]:
    """The page's headline numbers, in order. Waits until the first one is drawn (a page's
    title comes before its numbers on a busy machine) unless ``wait`` is False."""
    values = pg.locator("[data-testid='stMetricValue']")
    if wait:
        values.first.wait_for(state="visible")
    return [v.inner_text() for v in values.all()]


def pick_option(pg: Page, label: str, option: str) -> None:
    """Choose ``option`` in the select box labelled ``label``."""
    pg.get_by_role("combobox", name=label, exact=True).first.click()
    pg.get_by_role("option", name=option, exact=True).click()
    wait_idle(pg)
