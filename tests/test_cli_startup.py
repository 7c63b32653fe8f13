"""The CLI's parser is built without importing the report builders (scipy and the metrics):
every command, an import of a 1M-row export too, would pay about a second for it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from relmark_core.sharing.report_command import REPORT_PAGE_NAMES
from relmark_core.sharing.report_pages import REPORT_PAGES

ROOT = Path(__file__).resolve().parent.parent


def test_report_page_names_are_the_pages_with_a_report() -> None:
    assert REPORT_PAGE_NAMES == tuple(REPORT_PAGES)
    assert REPORT_PAGE_NAMES == ("overview", "customers", "rfm", "feedback", "retention",
                                 "loyalty", "segments", "offers", "data", "settings")


def test_building_the_parser_leaves_scipy_and_the_report_builders_unimported() -> None:
    code = (
        "import sys\n"
        "from relmark_core import cli\n"
        "p = cli.build_parser()\n"
        "p.parse_args(['export-report', '--page', 'rfm', '--out', 'x.pdf'])\n"
        "print(sorted(m for m in ('scipy', 'relmark_core.sharing.report_pages', "
        "'relmark_core.metrics.clv') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
