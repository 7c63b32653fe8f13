"""Overview page (AppTest): the revenue chart keeps time order when the first and last periods
are only partly in the range (they are drawn in a lighter colour, as a separate trace)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.apptest import open_page, problems

PAGE = "pages/overview.py"


def test_revenue_bars_stay_in_time_order(app_db: Path) -> None:
    # 2024-10-23 (a Wednesday) to 2024-12-04 (a Wednesday): the first and last ISO weeks are
    # partly in range, the five between are whole.
    at = open_page(PAGE, {"range": "custom", "start": "2024-10-23", "end": "2024-12-04",
                                "grain": "week"})
    assert problems(at) == []
    chart = next(c for c in at.get("plotly_chart") if c.proto.id.endswith("-ov_chart"))
    spec = json.loads(chart.proto.spec)
    order = spec["layout"]["xaxis"]["categoryarray"]
    assert order == sorted(order)
    assert len(order) == 7
    partly = next(t for t in spec["data"] if t["name"] == "Partly in range")
    assert [order.index(x) for x in partly["x"]] == [0, 6]
