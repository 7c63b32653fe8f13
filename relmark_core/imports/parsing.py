"""How a file writes its values, and the SQL that reads each cell accordingly.

Settled from the rows read so far (``_imp_raw``): decimal commas and currency symbols, date
formats, offsets and the day/month order (asked, never guessed, when the file is ambiguous),
Square's time-zone names and Typeform's score, comment and email columns.
"""

# ruff: noqa: S608
# The SQL here is assembled from the import's own pieces only: positional column names c<i>,
# field keys checked by sql_ident(), literals checked by sql_literal() and table names from fixed
# lists. Every value that comes from a file or a user (header names, cells, answers) is a bound
# parameter.

from __future__ import annotations

import re
import zoneinfo

import duckdb

from relmark_core import store
from relmark_core.imports import formats as fm
from relmark_core.imports.plan import (
    DATE_ORDERS,
    DateConv,
    Options,
    Plan,
    Question,
    SqlParams,
    fetch_one,
    fetch_rows,
    sql_ident,
)

__all__ = [
    "TYPEFORM_SCORE_SHARE",
    "TYPEFORM_EMAIL_SHARE",
    "PLACEHOLDERS",
    "TRIM_CHARS",
    "WHITESPACE_SQL",
    "WHITESPACE_TEXT_SQL",
    "BOOL_WORDS",
    "SURVEY_KINDS",
    "SLASH_TIME_FORMATS",
    "TEXT_DATE_FORMATS",
    "MACROS",
    "raw_cell",
    "analyse",
    "convention_columns",
    "analyse_conventions",
    "CONVENTION_NOTES",
    "analyse_money",
    "date_source",
    "OFFSET_RE",
    "SHOPIFY_TS_RE",
    "DMY_RE",
    "analyse_dates",
    "settle_date_order",
    "square_zones",
    "typeform_columns",
    "survey_kind",
    "ts_expr",
    "money_expr",
    "status_key",
    "typed_expr",
    "PARSE_CODE",
    "NO_TRIM_TYPES",
    "raw_text",
    "clean_text",
    "in_list",
]

TYPEFORM_SCORE_SHARE = 0.9
TYPEFORM_EMAIL_SHARE = 0.8
PLACEHOLDERS = ["", "-", "—", "n/a", "na", "null", "none", "#n/a", "nan", "(none)"]
TRIM_CHARS = " \t\r\n\u00a0\ufeff"
WHITESPACE_SQL = ", ".join(f"chr({ord(c)})" for c in TRIM_CHARS)
# The same characters as one SQL string: a value's first or last character is looked up in it
# with contains() (an IN list would be planned as a join, a hash probe for every cell).
WHITESPACE_TEXT_SQL = "(" + " || ".join(f"chr({ord(c)})" for c in TRIM_CHARS) + ")"
BOOL_WORDS: dict[str, bool] = {
    "yes": True, "y": True, "true": True, "t": True, "1": True, "x": True, "subscribed": True,
    "opted in": True, "opted_in": True, "oui": True, "ja": True, "si": True, "sí": True,
    "no": False, "n": False, "false": False, "f": False, "0": False, "unsubscribed": False,
    "never_subscribed": False, "never subscribed": False, "not_subscribed": False,
    "not subscribed": False, "opted out": False, "non": False, "nein": False,
}
SURVEY_KINDS = {"nps": "nps", "net promoter score": "nps", "csat": "csat",
                 "customer satisfaction": "csat", "satisfaction": "csat"}
SLASH_TIME_FORMATS = ["%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p", "%H:%M:%S.%f"]
TEXT_DATE_FORMATS = [
    "%b %d, %Y", "%B %d, %Y", "%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y",
    "%b %d, %Y %I:%M %p", "%B %d, %Y %I:%M %p", "%b %d, %Y %H:%M", "%d %b %Y %H:%M",
    "%d %B %Y %H:%M", "%d %b %Y %H:%M:%S", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M",
]


# --- step 1: read ---------------------------------------------------------------------------

MACROS = [
    # Trim only values that start or end with white space: trimming every value is slow.
    "CREATE OR REPLACE TEMP MACRO _imp_t(v) AS CASE WHEN v = '' THEN NULL "
    f"WHEN contains({WHITESPACE_TEXT_SQL}, v[1]) OR contains({WHITESPACE_TEXT_SQL}, v[-1]) "
    f"THEN nullif(trim(v, '{TRIM_CHARS}'), '') "
    "ELSE v END",
    "CREATE OR REPLACE TEMP MACRO _imp_numtext(v) AS regexp_replace(v, '[^0-9,.()+-]', '', 'g')",
    # Amounts that are not plain numbers: a last separator followed by one or two digits is
    # the decimal point whatever it is; otherwise the column's convention decides (comma: '.'
    # separates thousands and ',' decimals; dot: the other way round). (3.00) is negative.
    "CREATE OR REPLACE TEMP MACRO _imp_sep_text(s, comma) AS CASE "
    "WHEN regexp_matches(s, '[.,][0-9]{1,2}$') THEN "
    "regexp_replace(regexp_extract(s, '^(.*)[.,][0-9]{1,2}$', 1), '[.,]', '', 'g') || '.' || "
    "regexp_extract(s, '([0-9]{1,2})$', 1) "
    "WHEN comma THEN replace(replace(s, '.', ''), ',', '.') ELSE replace(s, ',', '') END",
    "CREATE OR REPLACE TEMP MACRO _imp_money(v, comma) AS TRY_CAST("
    "CASE WHEN _imp_numtext(v) LIKE '(%)' "
    "THEN '-' || _imp_sep_text(trim(_imp_numtext(v), '()'), comma) "
    "ELSE _imp_sep_text(_imp_numtext(v), comma) END AS DECIMAL(18,2))",
    "CREATE OR REPLACE TEMP MACRO _imp_dbl(v) AS TRY_CAST(replace(v, ',', '.') AS DOUBLE)",
    "CREATE OR REPLACE TEMP MACRO _imp_int(v) AS CASE WHEN contains(v, '.') OR contains(v, ',') "
    "THEN CASE WHEN _imp_dbl(v) = floor(_imp_dbl(v)) AND abs(_imp_dbl(v)) < 1e15 "
    "THEN CAST(_imp_dbl(v) AS BIGINT) END ELSE TRY_CAST(v AS BIGINT) END",
    "CREATE OR REPLACE TEMP MACRO _imp_email_ok(v) AS "
    "(v LIKE '%_@_%._%' AND NOT contains(v, ' ') AND NOT contains(substr(v, strpos(v, '@') + 1),"
    " '@'))",
]


# --- step 2: analyse ------------------------------------------------------------------------


def raw_cell(plan: Plan, key: str) -> str:
    return f"_imp_t(c{plan.cols[key]})"


def analyse(conn: duckdb.DuckDBPyConnection, plan: Plan, opts: Options) -> None:
    """Settle how to read the file, from the rows in ``_imp_raw``."""
    plan.store_tz = store.get_setting(conn, "store_timezone", "UTC")
    if plan.spec.name == "typeform":
        typeform_columns(conn, plan, opts)
    if plan.kind == "feedback" and plan.has("score") and not plan.has("kind"):
        survey_kind(conn, plan)
    analyse_conventions(conn, plan, opts)
    if plan.has("_time_zone"):
        square_zones(conn, plan)


def convention_columns(plan: Plan) -> list[int]:
    keys = [k for k in plan.cols if plan.ftype(k) in ("money", "timestamp", "date")]
    keys += [k for k in ("_date", "_time") if plan.has(k)]
    return sorted({plan.cols[k] for k in keys})


def analyse_conventions(conn: duckdb.DuckDBPyConnection, plan: Plan, opts: Options) -> None:
    """Decimal separators, currency symbols, date formats and day/month order."""
    reporting = store.get_setting(conn, "reporting_currency", "USD")
    plan.default_currency = reporting
    plan.notes = [n for n in plan.notes if not n.startswith(CONVENTION_NOTES)]
    plan.questions = [q for q in plan.questions if q.key != "date_order"]
    money = [k for k in plan.cols if plan.ftype(k) == "money"]
    symbols = analyse_money(conn, plan, money)
    if not plan.has("currency"):
        if len(symbols) == 1:
            sym = next(iter(symbols))
            cur = fm.CURRENCY_SYMBOLS[sym]
            if sym == "$" and reporting in ("USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN"):
                cur = reporting
            plan.default_currency = cur
            plan.notes.append(f"The file names no currency; amounts written with {sym} are "
                              f"stored as {cur}.")
        elif plan.kind == "orders":
            plan.notes.append(f"The file names no currency; amounts are stored as {reporting}, "
                              "the reporting currency.")
    date_fields = [k for k in plan.cols if plan.ftype(k) in ("timestamp", "date")]
    if plan.spec.name == "square_transactions" and plan.has("_date"):
        date_fields.append("_square_when")
    plan.dates = {}
    analyse_dates(conn, plan, date_fields)
    settle_date_order(plan, opts)


CONVENTION_NOTES = ("The file names no currency", "Amounts use a decimal comma", "Dates read as")


def analyse_money(conn: duckdb.DuckDBPyConnection, plan: Plan, keys: list[str]) -> set[str]:
    if not keys:
        return set()
    parts = []
    for key in keys:
        v = raw_cell(plan, key)
        parts.append(f"count(*) FILTER (WHERE {v} IS NOT NULL AND TRY_CAST({v} AS DECIMAL(18,2)) "
                     "IS NULL)")
        if plan.file.delimiter == ";":
            parts.append(f"count(*) FILTER (WHERE regexp_full_match({v}, "
                         "'-?[0-9]{1,3}(\\.[0-9]{3})+'))")
        else:
            parts.append("0")
    row = fetch_one(conn, f"SELECT {', '.join(parts)} FROM _imp_raw")
    symbols: set[str] = set()
    odd = []
    for i, key in enumerate(keys):
        n_odd, n_thousands = int(row[2 * i]), int(row[2 * i + 1])
        plan.money[key] = "plain"
        if n_odd or n_thousands:
            odd.append((key, n_thousands))
    if not odd:
        return symbols
    parts = []
    for key, _ in odd:
        v = raw_cell(plan, key)
        parts += [
            f"count(*) FILTER (WHERE regexp_matches({v}, ',[0-9]{{1,2}}[^0-9,.]*$'))",
            f"count(*) FILTER (WHERE regexp_matches({v}, '\\.[0-9]{{1,2}}[^0-9,.]*$'))",
            f"list_distinct(list(regexp_extract({v}, '[$£€¥₹]')) FILTER "
            f"(WHERE regexp_matches({v}, '[$£€¥₹]')))",
        ]
    row = fetch_one(conn, f"SELECT {', '.join(parts)} FROM _imp_raw")
    for i, (key, n_thousands) in enumerate(odd):
        n_comma, n_dot, syms = int(row[3 * i]), int(row[3 * i + 1]), row[3 * i + 2] or []
        symbols.update(s for s in syms if s)
        if n_comma > n_dot or (n_thousands and not n_dot):
            plan.money[key] = "comma"
        else:
            plan.money[key] = "dot"
    if any(c == "comma" for c in plan.money.values()):
        plan.notes.append("Amounts use a decimal comma (12,50 read as 12.50).")
    return symbols


def date_source(plan: Plan, key: str) -> str:
    if key == "_square_when":
        time_part = f"coalesce(' ' || {raw_cell(plan, '_time')}, '')" if plan.has("_time") else "''"
        return f"({raw_cell(plan, '_date')} || {time_part})"
    return raw_cell(plan, key)


OFFSET_RE = "(Z|[+-][0-9]{2}:?[0-9]{2}|UTC|GMT)$"
SHOPIFY_TS_RE = "[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}"
DMY_RE = "^([0-9]{1,2})[/.-]([0-9]{1,2})[/.-]([0-9]{2,4})"


def analyse_dates(conn: duckdb.DuckDBPyConnection, plan: Plan, keys: list[str]) -> None:
    if not keys:
        return
    parts = []
    for key in keys:
        v = date_source(plan, key)
        iso = f"substr({v}, 5, 1) = '-'"
        parts += [
            f"count({v})",
            f"count(*) FILTER (WHERE {iso})",
            f"count(*) FILTER (WHERE {iso} AND regexp_full_match({v}, '{SHOPIFY_TS_RE}'))",
            f"count(*) FILTER (WHERE {iso} AND regexp_matches({v}, '{OFFSET_RE}'))",
        ]
    row = fetch_one(conn, f"SELECT {', '.join(parts)} FROM _imp_raw")
    other_keys = []
    for i, key in enumerate(keys):
        n, n_iso, n_shop, n_off = (int(x) for x in row[4 * i: 4 * i + 4])
        conv = DateConv(iso=n_iso > 0, other=n_iso < n)
        if n_iso and n_shop == n_iso:
            conv.offsets = "shopify"
        elif n_iso and n_off == n_iso:
            conv.offsets = "all"
        elif n_off:
            conv.offsets = "mixed"
        plan.dates[key] = conv
        if conv.other:
            other_keys.append(key)
    if not other_keys:
        return
    parts = []
    for key in other_keys:
        v = date_source(plan, key)
        a = f"TRY_CAST(regexp_extract({v}, '{DMY_RE}', 1) AS INTEGER)"
        b = f"TRY_CAST(regexp_extract({v}, '{DMY_RE}', 2) AS INTEGER)"
        parts += [f"max({a})", f"max({b})", f"count(*) FILTER (WHERE {a} <> {b})",
                  f"min({v}) FILTER (WHERE {a} <> {b} AND {a} <= 12 AND {b} <= 12)"]
    row = fetch_one(conn, f"SELECT {', '.join(parts)} FROM _imp_raw")
    for i, key in enumerate(other_keys):
        max_a, max_b, n_diff, example = row[4 * i: 4 * i + 4]
        conv = plan.dates[key]
        if max_a is None:
            continue
        if max_a > 12 and (max_b or 0) <= 12:
            conv.decisive = "dmy"
        elif (max_b or 0) > 12 and max_a <= 12:
            conv.decisive = "mdy"
        elif max_a <= 12 and (max_b or 0) <= 12 and n_diff:
            conv.ambiguous = True
            conv.example = example


def settle_date_order(plan: Plan, opts: Options) -> None:
    decisive = {c.decisive for c in plan.dates.values() if c.decisive}
    if opts.date_order:
        plan.date_order = opts.date_order
        return
    if len(decisive) == 1:
        plan.date_order = decisive.pop()
        if any(c.ambiguous for c in plan.dates.values()):
            plan.notes.append(
                f"Dates read as {'day/month/year' if plan.date_order == 'dmy' else 'month/day/year'}"
                " (other dates in the file can only be read that way)."
            )
        return
    ambiguous = [k for k, c in plan.dates.items() if c.ambiguous]
    if ambiguous:
        key = ambiguous[0]
        conv = plan.dates[key]
        col = plan.column("_date" if key == "_square_when" else key)
        plan.questions.append(
            Question(
                key="date_order",
                text=(
                    f"The dates in column '{col}' (like {conv.example}) could be day/month/year "
                    "or month/day/year. Say which: choose it on the Data page, or pass "
                    "--date-order dmy or --date-order mdy."
                ),
                options=DATE_ORDERS,
                example=conv.example,
            )
        )
    plan.date_order = "dmy" if not decisive else decisive.pop()


def square_zones(conn: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    names = [r[0] for r in fetch_rows(
        conn, f"SELECT DISTINCT {raw_cell(plan, '_time_zone')} FROM _imp_raw WHERE "
        f"{raw_cell(plan, '_time_zone')} IS NOT NULL LIMIT 1000")]
    known = zoneinfo.available_timezones()
    for name in names:
        iana = fm.RAILS_TIME_ZONES.get(name) or fm.RAILS_TIME_ZONES.get(name.upper())
        if iana is None and name in known:
            iana = name
        if iana is not None:
            plan.zones[name] = iana


def typeform_columns(conn: duckdb.DuckDBPyConnection, plan: Plan, opts: Options) -> None:
    """Find Typeform's score, comment and email columns by their values and wording."""
    given = opts.mapping.fields if opts.mapping else {}
    fixed = {fm.normalise_header(h) for h in ("#", "submit date (utc)", "start date (utc)",
                                              "stage date (utc)", "network id", "response type",
                                              "tags", "ending")}
    candidates = [i for i, h in enumerate(plan.file.header) if fm.normalise_header(h) not in fixed]
    if not candidates:
        raise plan.refuse("the Typeform file has no answer columns. Download the responses "
                          "again with all questions included.")
    parts = []
    for i in candidates:
        v = f"_imp_t(c{i})"
        parts += [
            f"count({v})",
            f"count(*) FILTER (WHERE regexp_full_match({v}, '[0-9]{{1,2}}'))",
            f"min(TRY_CAST({v} AS INTEGER))",
            f"max(TRY_CAST({v} AS INTEGER))",
            f"count(*) FILTER (WHERE _imp_email_ok(lower({v})))",
        ]
    row = fetch_one(conn, f"SELECT {', '.join(parts)} FROM _imp_raw")
    stats = {}
    for j, i in enumerate(candidates):
        n, n_int, lo, hi, n_email = row[5 * j: 5 * j + 5]
        stats[i] = (int(n), int(n_int), lo, hi, int(n_email))
    header = plan.file.header
    if "score" not in given:
        scored = [i for i, (n, n_int, lo, hi, _) in stats.items()
                  if n and n_int >= TYPEFORM_SCORE_SHARE * n and lo is not None and lo >= 0
                  and hi is not None and hi <= 10]
        strong = [i for i in scored if re.search(r"recommend|likely|satisf|how (would|do) you rate",
                                                 header[i], re.I)]
        pick = strong if strong else scored
        if len(pick) == 1:
            plan.cols["score"] = pick[0]
        elif not pick:
            raise plan.refuse(
                "no answer in this Typeform file looks like a 0–10 or 1–5 score. Name the score "
                'column with a mapping, e.g. {"score": "How likely are you to recommend us?"}.'
            )
        else:
            plan.questions.append(
                Question(
                    key="score_column",
                    text=(
                        "Several answers in this Typeform file look like scores: "
                        f"{', '.join(repr(header[i]) for i in pick)}. Say which one is the "
                        'NPS/CSAT score: choose it on the Data page, or pass --mapping with '
                        f'{{"score": "{header[pick[0]]}"}}.'
                    ),
                    options=tuple(header[i] for i in pick),
                )
            )
            return
    score_i = plan.cols["score"]
    if "email" not in given:
        emails = [i for i, (n, _, _, _, n_email) in stats.items()
                  if i != score_i and n and n_email >= TYPEFORM_EMAIL_SHARE * n]
        if emails:
            plan.cols["email"] = emails[0]
    if "comment" not in given:
        texts = [i for i, (n, n_int, _, _, n_email) in stats.items()
                 if n and i not in (score_i, plan.cols.get("email")) and n_int < n / 2
                 and n_email < n / 2]
        worded = [i for i in texts if re.search(
            r"why|comment|reason|tell us|anything|feedback|improve|suggest", header[i], re.I)]
        after = [i for i in (worded or texts) if i > score_i]
        pick_c = (after or worded or texts)
        if pick_c:
            plan.cols["comment"] = pick_c[0]
    hi = stats.get(score_i, (0, 0, None, None, 0))[3]
    lo = stats.get(score_i, (0, 0, None, None, 0))[2]
    if re.search(r"recommend|likely", header[score_i], re.I):
        plan.survey_kind = "nps"
    elif hi is not None and lo is not None and hi <= 5 and lo >= 1:
        plan.survey_kind = "csat"
    else:
        plan.survey_kind = "nps"
    plan.notes.append(
        f"Score read from '{header[score_i]}' ({plan.survey_kind.upper()})"
        + (f", comment from '{header[plan.cols['comment']]}'" if "comment" in plan.cols else "")
        + (f", email from '{header[plan.cols['email']]}'" if "email" in plan.cols else "")
        + "."
    )


def survey_kind(conn: duckdb.DuckDBPyConnection, plan: Plan) -> None:
    if plan.survey_kind is not None:
        return
    if plan.spec.name == "delighted":
        plan.survey_kind = "nps"
        return
    lo, hi = fetch_one(conn, f"SELECT min(_imp_int({raw_cell(plan, 'score')})), "
                  f"max(_imp_int({raw_cell(plan, 'score')})) FROM _imp_raw")
    plan.survey_kind = "csat" if hi is not None and lo is not None and lo >= 1 and hi <= 5 else "nps"
    plan.notes.append(f"Scores read as {plan.survey_kind.upper()} "
                      f"({'1–5' if plan.survey_kind == 'csat' else '0–10'}).")


# --- step 3: type and check ------------------------------------------------------------------


def ts_expr(plan: Plan, key: str, v: str, q: SqlParams, *, to_utc: bool = True) -> str:
    """SQL turning text ``v`` into a naive UTC timestamp (or naive local when not to_utc)."""
    conv = plan.dates.get(key, DateConv())
    local_zone = None if (plan.spec.utc or not to_utc or plan.store_tz in ("UTC", "Etc/UTC")) \
        else plan.store_tz

    def local(ts: str) -> str:
        if local_zone is None:
            return ts
        return f"timezone('UTC', timezone({q.p(local_zone)}, {ts}))"

    offset_cast = (f"timezone('UTC', TRY_CAST(replace(replace({v}, ' -', '-'), ' +', '+') "
                   "AS TIMESTAMPTZ))")
    if conv.offsets == "shopify" and to_utc:
        iso = f"timezone('UTC', try_strptime({v}, '%Y-%m-%d %H:%M:%S %z'))"
    elif conv.offsets == "all" and to_utc:
        iso = offset_cast
    elif conv.offsets == "mixed" and to_utc:
        iso = (f"CASE WHEN regexp_matches({v}, '{OFFSET_RE}') THEN {offset_cast} "
               f"ELSE {local(f'TRY_CAST({v} AS TIMESTAMP)')} END")
    else:
        iso = local(f"TRY_CAST({v} AS TIMESTAMP)")
    if not conv.other:
        return iso
    order = plan.date_order or "dmy"
    d = "%d/%m" if order == "dmy" else "%m/%d"
    formats = []
    for y in ("%Y", "%y"):
        formats.append(f"{d}/{y}")
        formats += [f"{d}/{y} {t}" for t in SLASH_TIME_FORMATS]
    normalised = f"regexp_replace({v}, '^([0-9]{{1,2}})[.-]([0-9]{{1,2}})[.-]', '\\1/\\2/')"
    other = local(
        f"coalesce(try_strptime({normalised}, {q.p(formats)}), "
        f"try_strptime({v}, {q.p(TEXT_DATE_FORMATS)}))"
    )
    if not conv.iso:
        return other
    return f"CASE WHEN substr({v}, 5, 1) = '-' THEN {iso} ELSE {other} END"


def money_expr(plan: Plan, key: str, v: str) -> str:
    conv = plan.money.get(key, "plain")
    if conv == "plain":
        return f"TRY_CAST({v} AS DECIMAL(18,2))"
    if conv == "comma":
        return f"_imp_money({v}, true)"
    return f"_imp_money({v}, false)"


def status_key(v: str) -> str:
    return f"replace(replace(lower({v}), ' ', '_'), '-', '_')"


def typed_expr(plan: Plan, key: str, v: str, q: SqlParams) -> str:
    t = plan.ftype(key)
    if key == "phone":  # Shopify writes '+1555... so that spreadsheets keep the plus sign
        return f"ltrim({v}, '''')"
    if t in ("text", "email"):
        return v
    if t == "id":
        return f"nullif(ltrim({v}, ''''), '0')"
    if t == "money":
        return money_expr(plan, key, v)
    if t == "timestamp":
        return ts_expr(plan, key, v, q)
    if t == "date":
        return f"CAST({ts_expr(plan, key, v, q, to_utc=False)} AS DATE)"
    if t in ("int", "score"):
        return f"_imp_int({v})"
    if t == "bool":
        return q.lookup(BOOL_WORDS, f"lower({v})")
    if t == "tags":
        return (f"list_filter(list_transform(string_split({v}, ','), lambda x: lower(trim(x))), "
                "lambda x: x <> '')")
    if t == "country":
        return (f"CASE WHEN length({v}) = 2 THEN upper({v}) "
                f"ELSE coalesce({q.lookup(fm.COUNTRY_CODES, f'lower({v})')}, {v}) END")
    if t == "currency":
        return (f"CASE WHEN regexp_full_match(upper({v}), '[A-Z]{{3}}') THEN upper({v}) "
                f"ELSE {q.lookup(fm.CURRENCY_SYMBOLS, v)} END")
    if t == "status":
        table = dict(plan.spec.statuses or fm.GENERIC_STATUSES)
        table.update({f"wc_{k}": val for k, val in list(table.items())})  # WooCommerce's wc- prefix
        return q.lookup(table, status_key(v))
    if t == "survey_kind":
        return q.lookup(SURVEY_KINDS, f"lower({v})")
    raise AssertionError(f"unknown field type {t}")


PARSE_CODE: dict[str, str] = {
    "money": "number", "timestamp": "date", "date": "date", "int": "integer", "score": "integer",
    "currency": "currency", "status": "status", "survey_kind": "survey_kind",
}


NO_TRIM_TYPES = ("money", "int", "score")


def in_list(values: str, v: str) -> str:
    """SQL: ``v`` (not NULL) is one of the list ``values`` (a bound parameter or a list literal).

    Not ``list_contains`` or ``IN (...)``: DuckDB plans those as a join against the list, one
    join per use, which costs every row of the file a hash probe (even inside a CASE branch
    that rarely runs) and lets the rows' order go. ``list_position`` stays a plain function.
    """
    return f"list_position({values}, {v}) IS NOT NULL"


def raw_text(plan: Plan, key: str) -> str:
    """The cell as text: trimmed, except where the cast ignores surrounding spaces anyway."""
    c = f"c{plan.cols[key]}"
    return c if plan.ftype(key) in NO_TRIM_TYPES else f"_imp_t({c})"


def clean_text(plan: Plan, key: str, placeholder: str) -> str:
    """Countries are stored as written when not recognised: a placeholder ('-', 'n/a') there
    reads as empty. Elsewhere placeholders simply fail to parse and are let through as empty by
    the checks (see :func:`row_checks`)."""
    t = f"t_{sql_ident(key)}"
    if plan.ftype(key) != "country":
        return t
    return (f"CASE WHEN length({t}) <= 6 AND {in_list(placeholder, f'lower(trim({t}))')} "
            f"THEN NULL ELSE {t} END")
