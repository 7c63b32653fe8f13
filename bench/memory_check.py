"""Peak memory of the app process with three pages open, and growth across 50 reruns.

    python bench/memory_check.py [--size small|large] [--reruns 50]

Prints the server's RSS after the pages open, every 10 reruns, and the growth. Loopback only.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from app_server import CHROMIUM, CHROMIUM_ARGS, IDLE, AppServer, page_paths
from common import demo_db
from playwright.sync_api import sync_playwright

PRESETS = ["last_7_days", "last_30_days", "last_90_days", "last_365_days"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", choices=["small", "large"], default="small")
    ap.add_argument("--reruns", type=int, default=50)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="relmark-mem-"))
    db = tmp / "relmark.duckdb"
    shutil.copy(demo_db(args.size), db)
    server = AppServer(db, tmp / "streamlit.log")
    samples: list[tuple[str, float]] = [("started", server.rss_mib())]
    interactions: list[float] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ctx = browser.new_context()
            # first render of every page (a fresh session each, so nothing is cached per session)
            for path in page_paths():
                pg = browser.new_context().new_page()
                pg.set_default_timeout(600_000)
                t0 = time.perf_counter()
                pg.goto(f"{server.url}/{path}")
                pg.wait_for_selector("[data-testid='stMain'] h1")
                pg.wait_for_timeout(200)
                pg.wait_for_selector(IDLE)
                print(f"first render /{path or 'overview'}: {time.perf_counter() - t0:.2f} s", flush=True)
                pg.context.close()
            samples.append(("every page rendered", server.rss_mib()))
            paths = page_paths()[:3]
            tabs = []
            for path in paths:
                pg = ctx.new_page()
                pg.set_default_timeout(600_000)
                pg.goto(f"{server.url}/{path}")
                pg.wait_for_selector("[data-testid='stMain'] h1")
                pg.wait_for_selector(IDLE)
                tabs.append(pg)
            samples.append(("3 pages open", server.rss_mib()))
            for i in range(args.reruns):
                pg = tabs[i % len(tabs)]
                t0 = time.perf_counter()
                pg.goto(f"{server.url}/{paths[i % len(paths)]}?range={PRESETS[i % len(PRESETS)]}")
                pg.wait_for_selector("[data-testid='stMain'] h1")
                pg.wait_for_timeout(200)
                pg.wait_for_selector(IDLE)
                interactions.append(time.perf_counter() - t0)
                if (i + 1) % 10 == 0:
                    samples.append((f"after {i + 1} reruns", server.rss_mib()))
            browser.close()
    finally:
        server.stop()
    for label, rss in samples:
        print(f"{label:>20}: {rss:8.0f} MiB")
    after_first_10 = next((r for label, r in samples if label == "after 10 reruns"), samples[-1][1])
    peak = max(r for _, r in samples)
    print(f"peak_rss_mib={peak:.0f} growth_from_10_to_{args.reruns}_reruns_mib="
          f"{samples[-1][1] - after_first_10:.0f}")
    if interactions:
        srt = sorted(interactions)
        print(f"rerun_s median={srt[len(srt) // 2]:.2f} max={srt[-1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
