"""Property: whatever text a user types into any field of a segment, the compiled query keeps
its structure (its sqlglot parse tree with literals removed is the same as with plain values),
the query runs, and the only possible refusal is a validation message naming the condition."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import duckdb
import ibis
import pytest
import sqlglot
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from relmark_core import source, store
from relmark_core.errors import InputRefused
from relmark_core.segments import parse_definition
from relmark_core.segments.compile import members
from tests.builders import add_customer, order

AS_OF = date(2024, 6, 30)
TEXT_FIELDS = 12
NASTY = [
    "'; DROP TABLE customers; --",
    "\" OR 1=1 --",
    "it's",
    "back\\slash\\",
    "$1 ? :name %s {0}",
    "Ünïcødé ☕ 咖啡 العربية",
    "\u202eevil",
    "a\tb",
    "  padded  ",
    "",
    "x" * 250,
    "NULL",
    "*/ SELECT 1 /*",
]


def template(texts: list[str]) -> dict[str, Any]:
    """A segment with every kind of field a user can type text into, one text each. No two
    conditions are of the same kind and field: Ibis drops a repeated identical predicate, which
    would change the shape for a reason that has nothing to do with the text."""
    t = iter(texts)
    return {
        "match": "all",
        "conditions": [
            {"kind": "gender", "genders": [next(t)]},
            {"kind": "location", "field": "country", "values": [next(t)]},
            {"kind": "location", "field": "region", "values": [next(t)], "exclude": True},
            {"kind": "tags", "tags": [next(t)], "match": "none"},
            {"kind": "group", "match": "any", "conditions": [
                {"kind": "location", "field": "city", "values": [next(t)]},
                {"kind": "bought", "what": "category", "values": [next(t)], "within_days": 90},
                {"kind": "bought", "what": "product", "values": [next(t)], "bought": False},
                {"kind": "discount_code", "codes": [next(t)]},
                {"kind": "sales_channel", "channels": [next(t)]},
                {"kind": "rfm", "groups": [next(t)]},
                {"kind": "tier", "tiers": [next(t)]},
            ]},
            {"kind": "nps", "groups": ["promoter"]},
            {"kind": "age", "min_age": 18},
            {"kind": "spend", "min_spend": "10.50"},
            {"kind": "order_date", "which": "last", "start": "2024-01-01"},
            {"kind": "tags", "tags": [next(t)], "match": "all"},
        ],
    }


def _bare(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Literal):
        return exp.Placeholder()
    if isinstance(node, exp.Identifier) and node.name.startswith("ibis_pandas_memtable_"):
        return exp.to_identifier("memtable")  # loyalty tiers: a fresh name on every compile
    return node


def shape(sql: str) -> str:
    """The query's parse tree with every literal replaced by a placeholder."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    return tree.transform(_bare).sql(dialect="duckdb")


@pytest.fixture(scope="module")
def shop() -> Iterator[tuple[duckdb.DuckDBPyConnection, source.Source]]:
    with store.open_db(":memory:") as conn:
        add_customer(conn, "ann", city="Berlin", orders=[
            order("2024-06-01", 20, lines=[("House Blend", "Coffee", 1, 20)]),
        ])
        yield conn, source.from_duckdb(conn)


def compiled(src: source.Source, data: dict[str, Any]) -> str:
    d = parse_definition(data)
    return ibis.to_sql(members(src, d, as_of=AS_OF).count(), dialect="duckdb")


STRUCTURE_EXAMPLES = 25  # each compiles and runs a 15-condition query (~1 s on 2 busy cores)
ROUND_TRIP_EXAMPLES = 60
_baseline: dict[str, str] = {}


# Text the builder accepts: anything but control, surrogate, private-use and unassigned
# characters, not blank (quotes, SQL, backslashes, right-to-left marks and emoji included).
accepted_text = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs", "Co", "Cn")), min_size=1, max_size=40
).filter(lambda s: s.strip() != "")
NASTY_ACCEPTED = [t for t in NASTY if t.strip() and len(t) <= 200 and "\t" not in t]


def _same_shape(src: source.Source, texts: list[str]) -> None:
    if "shape" not in _baseline:
        plain = template([f"plain{i}" for i in range(TEXT_FIELDS)])
        _baseline["shape"] = shape(compiled(src, plain))
    assert shape(compiled(src, template(texts))) == _baseline["shape"]
    d = parse_definition(template(texts))
    assert src.execute(members(src, d, as_of=AS_OF).count()) in (0, 1)
    assert int(src.execute(src.customers.count())) == 1  # nothing dropped, nothing added


@settings(max_examples=STRUCTURE_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.one_of(accepted_text, st.sampled_from(NASTY_ACCEPTED)),
                      min_size=TEXT_FIELDS, max_size=TEXT_FIELDS))
@example(texts=NASTY_ACCEPTED[:TEXT_FIELDS] + ["x"] * (TEXT_FIELDS - len(NASTY_ACCEPTED)))
@example(texts=["'; DROP TABLE customers; --"] * TEXT_FIELDS)
def test_accepted_text_never_changes_the_query_structure(
    shop: tuple[duckdb.DuckDBPyConnection, source.Source], texts: list[str]
) -> None:
    _same_shape(shop[1], texts)


@settings(max_examples=STRUCTURE_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts=st.lists(st.one_of(st.text(max_size=40), st.sampled_from(NASTY)),
                      min_size=TEXT_FIELDS, max_size=TEXT_FIELDS))
@example(texts=NASTY[:TEXT_FIELDS])
def test_any_text_is_accepted_unchanged_in_shape_or_refused_in_words(
    shop: tuple[duckdb.DuckDBPyConnection, source.Source], texts: list[str]
) -> None:
    try:
        parse_definition(template(texts))
    except InputRefused as exc:
        # the only refusal: a validation message naming a condition and its field
        assert str(exc).startswith("In condition "), str(exc)
        return
    _same_shape(shop[1], texts)


@settings(max_examples=ROUND_TRIP_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(st.text(min_size=1, max_size=40), st.sampled_from(NASTY)))
def test_user_text_matches_itself_exactly(
    shop: tuple[duckdb.DuckDBPyConnection, source.Source], text: str
) -> None:
    """A value travels as a literal: a customer whose city is exactly that text is found, and
    only that customer (the shop also has a customer in Berlin)."""
    conn, src = shop
    city = {"kind": "location", "field": "city", "values": [text]}
    try:
        d = parse_definition({"conditions": [city]})
    except InputRefused as exc:
        assert str(exc).startswith("In condition 1 (Location), values: "), str(exc)
        return
    stored = d.conditions[0].values[0]  # type: ignore[union-attr]
    conn.execute("INSERT INTO customers (customer_id, city, source_system) VALUES ('x', ?, 't')",
                 [stored])
    try:
        got = sorted(src.execute(members(src, d, as_of=AS_OF).customer_id).tolist())
        assert got == (["ann", "x"] if stored == "Berlin" else ["x"])
    finally:
        conn.execute("DELETE FROM customers WHERE customer_id = 'x'")
