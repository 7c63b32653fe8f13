"""20 browser sessions at once clicking through every page while an import runs.

    python bench/concurrency_check.py [--sessions 20] [--rounds 3] [--size small]

Loopback only, bounded loops. Checks: no error box or exception on any page, each session's URL
keeps its own filters, and the import loaded every row. Prints figures for the Scale issue.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from app_server import CHROMIUM, CHROMIUM_ARGS, IDLE, ROOT, AppServer, page_paths
from common import demo_db
from playwright.async_api import Page, async_playwright

PRESETS = ["last_7_days", "last_30_days", "last_90_days", "last_365_days", "year_to_date"]
ERROR_SELECTORS = "[data-testid='stException'], [data-testid='stAlertContentError']"
STEP_TIMEOUT_MS = 120_000


async def settle(pg: Page) -> None:
    await pg.wait_for_timeout(200)
    await pg.wait_for_selector(IDLE, timeout=STEP_TIMEOUT_MS)
    # a page title, or the frame's "database is busy" notice while an import holds the file
    await pg.wait_for_selector("[data-testid='stMain'] h1, [data-testid='stAlertContentWarning'], "
                               "[data-testid='stAlertContentError'], [data-testid='stException']",
                               timeout=STEP_TIMEOUT_MS)


async def session(i: int, browser, url: str, paths: list[str], rounds: int, out: dict) -> None:  # type: ignore[no-untyped-def]
    ctx = await browser.new_context()
    pg = await ctx.new_page()
    pg.set_default_timeout(STEP_TIMEOUT_MS)
    pg.set_default_navigation_timeout(STEP_TIMEOUT_MS)
    preset = PRESETS[i % len(PRESETS)]
    times: list[float] = []
    errors: list[str] = []
    busy: list[str] = []
    for _ in range(rounds):
        for path in paths:
            t0 = time.perf_counter()
            await pg.goto(f"{url}/{path}?range={preset}")
            await settle(pg)
            if await pg.get_by_text("is busy").count():
                busy.append(f"session {i} /{path}")
            times.append(time.perf_counter() - t0)
            for el in await pg.locator(ERROR_SELECTORS).all():
                errors.append(f"session {i} /{path}: {(await el.inner_text())[:200]}")
            if f"range={preset}" not in pg.url and not await pg.get_by_text("is busy").count():
                errors.append(f"session {i} /{path}: URL lost its filter: {pg.url}")
    out[i] = (times, errors + [f"(busy notice, not an error) {b}" for b in busy])
    await ctx.close()


def make_import_file(tmp: Path, orders: int) -> Path | None:
    """A Shopify orders export for the concurrent import (None if the import engine is absent)."""
    try:
        sys.path.insert(0, str(ROOT / "bench"))
        import import_bench  # type: ignore[import-not-found]
    except ImportError:
        return None
    path = tmp / "concurrent_shopify.csv"
    import_bench.write_shopify_export(path, 0, orders)
    return path


async def main_async(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="relmark-conc-"))
    db = tmp / "relmark.duckdb"
    shutil.copy(demo_db(args.size), db)
    server = AppServer(db, tmp / "streamlit.log")
    paths = page_paths()
    importer = None
    csv_path = make_import_file(tmp, args.import_orders)
    try:
        if csv_path is not None:
            importer = subprocess.Popen(
                [sys.executable, "-m", "relmark_core", "--db", str(db), "import", str(csv_path),
                 "--keep-demo"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                env={**__import__("os").environ, "RELMARK_BUSY_WAIT_S": "120"})
        t0 = time.perf_counter()
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            out: dict[int, tuple[list[float], list[str]]] = {}
            await asyncio.gather(*(session(i, browser, server.url, paths, args.rounds, out)
                                   for i in range(args.sessions)))
            await browser.close()
        wall = time.perf_counter() - t0
        import_note = "no import engine yet"
        lost = 0
        if importer is not None:
            stdout, stderr = importer.communicate(timeout=600)
            import_note = stdout.strip() or stderr.strip()
            if importer.returncode != 0:
                lost = -1
        times = [t for ts, _ in out.values() for t in ts]
        errors = [e for _, es in out.values() for e in es]
        print(f"sessions={args.sessions} page_visits={len(times)} wall_s={wall:.1f} "
              f"median_s={statistics.median(times):.2f} p95_s={sorted(times)[int(0.95 * len(times)) - 1]:.2f} "
              f"errors={len(errors)} server_rss_mib={server.rss_mib():.0f}")
        print(f"import: {import_note}")
        for e in errors[:20]:
            print("ERROR", e)
        real = [e for e in errors if not e.startswith("(busy notice")]
        print(f"busy_notices={len(errors) - len(real)}")
        return 1 if real or lost else 0
    finally:
        server.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--size", choices=["small", "large"], default="small")
    ap.add_argument("--import-orders", type=int, default=50_000)
    return asyncio.run(main_async(ap.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
