"""Peak memory of the app process with three pages open, and growth across 50 reruns and
repeated uploads.

    python bench/memory_check.py [--size small|large] [--reruns 50] [--uploads 20]

Prints the server's RSS after the pages open, every 10 reruns and every 5 uploads (the same
20,000-order Shopify export dropped on the Data page again and again, previewed each time, not
imported, the previous file taken off the uploader first), the growth, and the peak (VmHWM). Loopback only.
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
from import_bench import write_shopify_export
from playwright.sync_api import sync_playwright

UPLOAD_ORDERS = 20_000
PRESETS = ["last_7_days", "last_30_days", "last_90_days", "last_365_days"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", choices=["small", "large"], default="small")
    ap.add_argument("--reruns", type=int, default=50)
    ap.add_argument("--uploads", type=int, default=20)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="relmark-mem-"))
    db = tmp / "relmark.duckdb"
    shutil.copy(demo_db(args.size), db)
    server = AppServer(db, tmp / "streamlit.log")
    samples: list[tuple[str, float]] = [("started", server.rss_mib())]
    peak_hwm = float("nan")
    peak_all = 0.0
    interactions: list[float] = []
    uploads: list[float] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            ctx = browser.new_context()
            # first render of every page (a fresh session each, so nothing is cached per session)
            for path in page_paths():
                peak_all = max(peak_all, server.rss_mib("VmHWM"))
                server.reset_peak()  # each page's own peak
                pg = browser.new_context().new_page()
                pg.set_default_timeout(600_000)
                t0 = time.perf_counter()
                pg.goto(f"{server.url}/{path}")
                pg.wait_for_selector("[data-testid='stMain'] h1")
                pg.wait_for_timeout(200)
                pg.wait_for_selector(IDLE)
                print(f"first render /{path or 'overview'}: {time.perf_counter() - t0:.2f} s, "
                      f"peak {server.rss_mib('VmHWM'):.0f} MiB", flush=True)
                pg.context.close()
            samples.append(("every page rendered", server.rss_mib()))
            peak_all = max(peak_all, server.rss_mib("VmHWM"))
            server.reset_peak()  # from here on: the peak with three pages open
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
            for i in range(args.uploads):
                if i == 0:
                    export = tmp / "upload.csv"
                    write_shopify_export(export, 1, UPLOAD_ORDERS)
                    data = export.read_bytes()
                    pg = ctx.new_page()
                    pg.set_default_timeout(600_000)
                    pg.goto(f"{server.url}/data")
                    pg.wait_for_selector("[data-testid='stMain'] h1")
                    pg.wait_for_selector(IDLE)
                t0 = time.perf_counter()
                uploader = pg.locator("[data-testid='stFileUploader']").filter(
                    has_text="Exports to import")
                # a multi-file uploader adds files to its list: take the last one off first,
                # as someone trying one export after another would
                delete = uploader.locator("[data-testid='stFileChipDeleteBtn'] button")
                if delete.count():
                    delete.first.click()
                    pg.wait_for_timeout(200)
                    pg.wait_for_selector(IDLE)
                uploader.locator("input[type=file]").set_input_files(
                    files=[{"name": f"orders-{i}.csv", "mimeType": "text/csv", "buffer": data}])
                pg.wait_for_timeout(200)
                pg.wait_for_selector(IDLE)
                uploads.append(time.perf_counter() - t0)
                if (i + 1) % 5 == 0:
                    files = uploader.locator("[data-testid='stFileChip']").count()
                    samples.append((f"after {i + 1} uploads ({files} listed)", server.rss_mib()))
            browser.close()
        peak_hwm = server.rss_mib("VmHWM")  # the true peak, between samples too
    finally:
        server.stop()
    for label, rss in samples:
        print(f"{label:>20}: {rss:8.0f} MiB")
    reruns = [r for label, r in samples if label.endswith(" reruns")]
    after_first_10 = reruns[0] if reruns else samples[-1][1]
    ups = [r for label, r in samples if " uploads (" in label]
    peak = max(r for _, r in samples)
    print(f"peak_rss_mib_every_page_once={peak_all:.0f}")
    print(f"peak_rss_mib={peak_hwm:.0f} (three pages open, reruns, uploads; largest sample "
          f"{peak:.0f}) "
          f"growth_from_10_to_{args.reruns}_reruns_mib="
          f"{(reruns[-1] if reruns else after_first_10) - after_first_10:.0f}")
    if ups:
        print(f"growth_from_5_to_{args.uploads}_uploads_mib={ups[-1] - ups[0]:.0f} "
              f"upload_preview_s median={sorted(uploads)[len(uploads) // 2]:.2f}")
    if interactions:
        srt = sorted(interactions)
        print(f"rerun_s median={srt[len(srt) // 2]:.2f} max={srt[-1]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
