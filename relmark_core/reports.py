"""Reports the CLI prints (``python -m relmark_core report NAME``): a contract scripts rely on.

Each report is a name, its extra arguments and a function from (source, arguments) to records.
Output: ``--format csv`` (default) is a header row and one row per record; ``--format json`` is
one JSON array of records (one object for ``kpis``). Money is rounded to cents by the report,
shares are unrounded, missing values are empty in CSV and null in JSON.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from relmark_core.errors import InputRefused
from relmark_core.metrics import feedback, retention, rfm
from relmark_core.metrics.kpis import data_span, kpis
from relmark_core.periods import DEFAULT_GRAIN, GRAINS, DateRange, parse_date
from relmark_core.source import Source
from relmark_core.store import utc_now

__all__ = ["Report", "REPORTS", "FORMATS", "render", "as_of_arg", "today_utc"]

FORMATS = ("csv", "json")

Records = list[dict[str, Any]] | dict[str, Any]


@dataclass(frozen=True)
class Report:
    """A CLI report: ``add_arguments`` declares its options, ``run`` returns its records."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Source, argparse.Namespace], Records]


def today_utc() -> date:
    return utc_now().date()


def as_of_arg(args: argparse.Namespace) -> date:
    """The ``--as-of`` date (default: today, UTC)."""
    value = getattr(args, "as_of", None)
    return parse_date(value, field="--as-of date") if value else today_utc()


def _clean(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (date, pd.Timestamp)):
        return value.isoformat()
    if value is pd.NaT:
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _clean(value.item())
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _records(data: pd.DataFrame | Records) -> Records:
    if isinstance(data, pd.DataFrame):
        return [{str(k): _clean(v) for k, v in row.items()} for row in data.to_dict("records")]
    if isinstance(data, dict):
        return {k: _clean(v) if not isinstance(v, dict) else v for k, v in data.items()}
    return [{k: _clean(v) for k, v in r.items()} for r in data]


def render(data: pd.DataFrame | Records, fmt: str) -> str:
    """Records as CSV (header + rows) or JSON (array, or one object)."""
    recs = _records(data)
    if fmt == "json":
        return json.dumps(recs, ensure_ascii=False)
    rows = [recs] if isinstance(recs, dict) else recs
    buf = io.StringIO()
    if not rows:
        return ""
    writer = csv.DictWriter(buf, fieldnames=list(rows[0].keys()), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow(
            {
                k: ("" if v is None else json.dumps(v) if isinstance(v, dict) else v)
                for k, v in r.items()
            }
        )
    return buf.getvalue()


# --- kpis -------------------------------------------------------------------------------------


def _kpis_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--start", help="first day, inclusive (YYYY-MM-DD; default: first order)")
    p.add_argument("--end", help="day after the last, exclusive (YYYY-MM-DD; default: all data)")


def range_args(args: argparse.Namespace, first: date | None, last: date | None) -> DateRange:
    """The ``--start``/``--end`` range, each side defaulting to the data's first/last day."""
    fallback = today_utc()
    start = parse_date(args.start, field="--start date") if args.start else (first or fallback)
    end = (
        parse_date(args.end, field="--end date")
        if args.end
        else ((last or fallback) + timedelta(days=1))
    )
    if end <= start:
        raise InputRefused(
            f"--end ({end}) must be after --start ({start}); --end is exclusive: the day after "
            "the last day you want."
        )
    return DateRange(start=start, end=end)


def _kpis_run(src: Source, args: argparse.Namespace) -> Records:
    first, last = data_span(src)
    return kpis(src, rng=range_args(args, first, last)).as_record()


# --- rfm --------------------------------------------------------------------------------------

RFM_REPORT_COLUMNS = ("customer_id", "email", "recency_days", "frequency", "monetary", "r", "f",
                      "m", "group")


def _rfm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--as-of",
        default=None,
        help="take values at this date; orders on or after it are ignored "
        "(YYYY-MM-DD; default: the day after the last counted order)",
    )


def _rfm_run(src: Source, args: argparse.Namespace) -> Records:
    as_of = parse_date(args.as_of, field="--as-of date") if args.as_of else None
    df = rfm.rfm_table(src, as_of=as_of, groups=rfm.load_groups_for(src), with_reason=False)
    df = df[list(RFM_REPORT_COLUMNS)].copy()
    df["monetary"] = df["monetary"].round(2)
    return _records(df)


# --- nps --------------------------------------------------------------------------------------

NPS_REPORT_COLUMNS = ("period", "responses", "promoters", "passives", "detractors", "nps")
NPS_DECIMALS = 1


def _nps_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--grain", choices=GRAINS, default=DEFAULT_GRAIN, help="period length")
    p.add_argument("--start", help="first day, inclusive (YYYY-MM-DD; default: first answer)")
    p.add_argument("--end", help="day after the last, exclusive (YYYY-MM-DD; default: all)")


def _nps_run(src: Source, args: argparse.Namespace) -> Records:
    rng = None
    if args.start or args.end:
        first, last = feedback.answer_span(src, kind="nps")
        rng = range_args(args, first, last)
    df = feedback.nps_over_time(src, grain=args.grain, rng=rng)
    df = df[list(NPS_REPORT_COLUMNS)].copy()
    df["nps"] = df["nps"].round(NPS_DECIMALS)
    return _records(df)


# --- retention --------------------------------------------------------------------------------


def _retention_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--grain", choices=GRAINS, default=DEFAULT_GRAIN, help="cohort period length")
    p.add_argument(
        "--mode",
        choices=retention.MODES,
        default=retention.DEFAULT_MODE,
        help="on: ordered in period k; on_or_after: in period k or later; revenue: revenue in "
        "period k / period 0 (can exceed 1)",
    )
    p.add_argument(
        "--view",
        choices=retention.VIEWS,
        default=retention.DEFAULT_VIEW,
        help="first_time: cohorts by first order; recurring: everyone who ordered in a period",
    )
    p.add_argument(
        "--as-of",
        default=None,
        help="ignore later orders; later periods have not happened (YYYY-MM-DD; default today)",
    )


def _retention_run(src: Source, args: argparse.Namespace) -> Records:
    q = retention.RetentionQuery(as_of=as_of_arg(args), grain=args.grain, view=args.view)
    return _records(retention.cohort_retention(src, query=q).matrix(args.mode))


_ALL_REPORTS = (
    Report(
        name="kpis",
        help="headline numbers: customers, orders, revenue, AOV, repeat purchase rate",
        add_arguments=_kpis_args,
        run=_kpis_run,
    ),
    Report(
        name="rfm",
        help="RFM values, scores and group of every customer with a counted order",
        add_arguments=_rfm_args,
        run=_rfm_run,
    ),
    Report(
        name="nps",
        help="NPS per period (answers, promoters, passives, detractors, NPS) and an 'all' row",
        add_arguments=_nps_args,
        run=_nps_run,
    ),
    Report(
        name="retention",
        help="cohort retention matrix: cohort, size, p0 ... pN as shares (empty: not yet)",
        add_arguments=_retention_args,
        run=_retention_run,
    ),
)
REPORTS: dict[str, Report] = {r.name: r for r in _ALL_REPORTS}
