"""Small builders that make a test's shop readable in a few lines.

    add_customer(conn, "c1", email="ann@shop.com", orders=[order("2024-03-01", 50)])
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb

from relmark_core import store


def _ts(value: str | date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return datetime.fromisoformat(value) if "T" in value or " " in value else datetime.fromisoformat(
        value + "T12:00:00"
    )


def order(
    when: str | date | datetime,
    total: float | str,
    *,
    refunds: float | str = 0,
    status: str = "paid",
    currency: str = "USD",
    tax: float | str | None = None,
    shipping: float | str | None = None,
    discounts: float | str | None = None,
    discount_code: str | None = None,
    channel: str | None = "online_store",
    lines: list[tuple[str, str, int, float]] | None = None,
    order_id: str | None = None,
) -> dict[str, Any]:
    """An order spec for :func:`add_customer`; ``lines`` = [(product, category, qty, price)]."""
    return {
        "when": _ts(when),
        "total": Decimal(str(total)),
        "refunds": Decimal(str(refunds)),
        "status": status,
        "currency": currency,
        "tax": None if tax is None else Decimal(str(tax)),
        "shipping": None if shipping is None else Decimal(str(shipping)),
        "discounts": None if discounts is None else Decimal(str(discounts)),
        "discount_code": discount_code,
        "channel": channel,
        "lines": lines or [],
        "order_id": order_id,
    }


_order_seq = [0]


def add_customer(
    conn: duckdb.DuckDBPyConnection,
    customer_id: str,
    *,
    email: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    country: str | None = None,
    city: str | None = None,
    gender: str | None = None,
    birthday: str | None = None,
    accepts_marketing: bool | None = True,
    tags: list[str] | None = None,
    channel: str | None = None,
    signup: str | None = None,
    orders: list[dict[str, Any]] | None = None,
    source_system: str = "test",
) -> str:
    """Insert a customer and their orders (and lines); returns the customer id."""
    email = email if email is not None else f"{customer_id}@example.com"
    conn.execute(
        "INSERT INTO customers (customer_id, email, email_norm, first_name, last_name, country, "
        "city, gender, birthday, accepts_marketing, tags, acquisition_channel, signup_at, "
        "source_system) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            customer_id,
            email,
            email.strip().lower(),
            first_name,
            last_name,
            country,
            city,
            gender,
            birthday,
            accepts_marketing,
            tags or [],
            channel,
            _ts(signup) if signup else None,
            source_system,
        ],
    )
    conn.execute(
        "INSERT INTO customer_keys VALUES ('email', ?, ?)", [email.strip().lower(), customer_id]
    )
    for spec in orders or []:
        add_order(conn, customer_id, spec, source_system=source_system)
    return customer_id


def add_order(
    conn: duckdb.DuckDBPyConnection,
    customer_id: str | None,
    spec: dict[str, Any],
    *,
    source_system: str = "test",
) -> str:
    _order_seq[0] += 1
    source_id = spec["order_id"] or f"o{_order_seq[0]}"
    order_id = f"{source_system}:{source_id}"
    total = spec["total"]
    refunds = spec["refunds"]
    subtotal = sum((Decimal(str(p)) * q for _, _, q, p in spec["lines"]), Decimal("0")) or None
    conn.execute(
        "INSERT INTO orders (order_id, source_order_id, source_system, customer_id, ordered_at, "
        "currency, subtotal, discounts, shipping, tax, total, refunds, net, status, "
        "sales_channel, discount_code) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [
            order_id,
            source_id,
            source_system,
            customer_id,
            spec["when"],
            spec["currency"],
            subtotal,
            spec["discounts"],
            spec["shipping"],
            spec["tax"],
            total,
            refunds,
            total - refunds,
            spec["status"],
            spec["channel"],
            spec["discount_code"],
        ],
    )
    for i, (product, category, qty, price) in enumerate(spec["lines"], start=1):
        conn.execute(
            "INSERT INTO order_lines (order_id, line_no, product, sku, category, quantity, "
            "unit_price) VALUES (?,?,?,?,?,?,?)",
            [order_id, i, product, product.upper()[:6], category, qty, Decimal(str(price))],
        )
    return order_id


def add_feedback(
    conn: duckdb.DuckDBPyConnection,
    customer_id: str | None,
    when: str | date | datetime,
    score: int,
    *,
    kind: str = "nps",
    comment: str | None = None,
    source: str = "test",
    response_id: str | None = None,
    product: str | None = None,
) -> str:
    _order_seq[0] += 1
    rid = response_id or f"{source}:r{_order_seq[0]}"
    conn.execute(
        "INSERT INTO feedback (response_id, customer_id, answered_at, kind, score, comment, "
        "source, product) VALUES (?,?,?,?,?,?,?,?)",
        [rid, customer_id, _ts(when), kind, score, comment, source, product],
    )
    return rid


def set_reporting(conn: duckdb.DuckDBPyConnection, currency: str = "USD", tz: str = "UTC") -> None:
    store.set_setting(conn, "reporting_currency", currency)
    store.set_setting(conn, "store_timezone", tz)
