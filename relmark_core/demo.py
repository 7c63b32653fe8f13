"""The demo shop: a seeded generator that fills the store with a believable coffee and tea shop.

The shop covers :data:`DEMO_MONTHS` months ending at an end date (default: today, UTC), so a
"last 90 days" view always has data. Customers arrive at a growing pace with a Black Friday /
Christmas peak; after their first order each customer follows a BG/NBD-like process (a personal
purchase rate drawn from a Gamma distribution, a chance to drop out after every purchase drawn
from a Beta distribution), which gives mostly one-time buyers and a heavy tail of loyal ones.
Orders carry refunds, cancellations, failed payments, discount codes, shipping, tax, sales
channels and a few orders in CAD and EUR; a share of buyers answered NPS and CSAT surveys or
wrote product reviews, with scores that follow their experience.

The generator works on chunks of :data:`CHUNK_CUSTOMERS` customers with numpy; each chunk's
random numbers come from ``(seed, chunk index)``, so the same seed, end date and customer count
always give the same database. Each chunk is handed to DuckDB as Arrow tables and inserted with
``INSERT ... SELECT``; the whole replacement is one transaction.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
from pydantic import BaseModel, ConfigDict

from relmark_core import auth, store
from relmark_core.errors import InputRefused
from relmark_core.store import DEFAULT_ACTOR

__all__ = [
    "DEFAULT_CUSTOMERS",
    "DEFAULT_SEED",
    "DEMO_MONTHS",
    "DEMO_SOURCE",
    "DEMO_CURRENCY",
    "CHUNK_CUSTOMERS",
    "IMPORT_HISTORY_TABLES",
    "DemoSummary",
    "ProgressCallback",
    "demo_period",
    "load_demo",
    "clear_shop_data",
]

DEFAULT_CUSTOMERS = 5000
DEFAULT_SEED = 42
DEMO_MONTHS = 30
DEMO_SOURCE = "demo"
DEMO_CURRENCY = "USD"  # the shop's reporting currency
CHUNK_CUSTOMERS = 100_000  # changing it changes the generated shop (random streams are per chunk)
PROGRESS_BEFORE_COMMIT = 0.99  # share of the progress bar reached when the last chunk is in
# The import history: what was imported, and what undoing an import would restore. Cleared
# with the shop's data (store.DATA_TABLES).
IMPORT_HISTORY_TABLES = (
    "imports",
    "import_prev_customers",
    "import_prev_orders",
    "import_prev_order_lines",
    "import_prev_feedback",
    "import_added_keys",
    "import_prev_consent",
)

ProgressCallback = Callable[[float, str], None]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

SECONDS_PER_DAY = 86_400
_EPOCH = date(1970, 1, 1)

# --- the customer process -------------------------------------------------------------------
NEVER_ORDERED_SHARE = 0.10  # signed up (newsletter, account) but never ordered
ACQUISITION_GROWTH = 2.0  # new customers a day at the end of the period vs. at its start
PURCHASE_RATE_SHAPE = 0.3  # Gamma shape of the per-customer repeat purchase rate
PURCHASE_RATE_SCALE = 0.1  # Gamma scale (purchases a day)
MAX_PURCHASE_RATE = 0.1  # nobody buys more than every ten days on average
DROPOUT_A = 0.9  # Beta(a, b) of the chance to drop out after each purchase
DROPOUT_B = 1.6
MIN_DROPOUT = 1e-6

# --- calendar ---------------------------------------------------------------------------------
# Relative order volume by calendar month (Jan..Dec) and weekday (Mon..Sun).
MONTH_FACTORS = (0.85, 0.80, 0.92, 0.95, 1.00, 0.92, 0.85, 0.85, 0.95, 1.00, 1.45, 1.60)
WEEKDAY_FACTORS = (1.05, 1.00, 1.00, 0.98, 0.95, 0.92, 1.10)
BFCM_FACTOR = 2.4  # Black Friday .. Cyber Monday
BFCM_DAYS = 4
CHRISTMAS_LULL = ((24, 0.6), (25, 0.5), (26, 0.6))  # (December day, factor)
# Share of orders by hour of day (UTC); most customers are in North America.
HOUR_WEIGHTS = (
    1.6, 1.5, 1.3, 1.0, 0.7, 0.45, 0.3, 0.25, 0.25, 0.3, 0.4, 0.55,
    0.7, 0.85, 1.0, 1.1, 1.2, 1.25, 1.3, 1.3, 1.3, 1.35, 1.45, 1.55,
)  # fmt: skip

# --- catalogue: (product, sku, category, USD price in cents, popularity) ---------------------
PRODUCTS: tuple[tuple[str, str, str, int, float], ...] = (
    ("House Blend Coffee 340g", "COF-HB-340", "Coffee", 1499, 10.0),
    ("Ethiopia Yirgacheffe 340g", "COF-ETH-340", "Coffee", 1899, 6.0),
    ("Colombia Huila 340g", "COF-COL-340", "Coffee", 1699, 6.0),
    ("Decaf Swiss Water 340g", "COF-DEC-340", "Coffee", 1599, 3.0),
    ("Espresso Roast 1kg", "COF-ESP-1000", "Coffee", 3999, 4.0),
    ("Cold Brew Pack (4 x 85g)", "COF-CB-4", "Coffee", 1299, 3.0),
    ("Single-Origin Sampler", "COF-SMP-6", "Coffee", 2499, 2.0),
    ("Earl Grey 100g", "TEA-EG-100", "Tea", 999, 5.0),
    ("Sencha Green 100g", "TEA-SEN-100", "Tea", 1199, 4.0),
    ("Chamomile Calm 50g", "TEA-CHA-50", "Tea", 899, 3.0),
    ("Masala Chai 100g", "TEA-CHAI-100", "Tea", 1099, 4.0),
    ("Matcha Ceremonial 30g", "TEA-MAT-30", "Tea", 2499, 2.0),
    ("Rooibos Vanilla 100g", "TEA-ROO-100", "Tea", 999, 2.0),
    ("Pour-Over Dripper", "GEAR-DRIP", "Brewing gear", 2400, 3.0),
    ("Paper Filters (100)", "GEAR-FILT-100", "Brewing gear", 699, 5.0),
    ("French Press 1L", "GEAR-FP-1000", "Brewing gear", 3499, 2.0),
    ("Burr Grinder", "GEAR-GRIND", "Brewing gear", 8999, 1.0),
    ("Gooseneck Kettle", "GEAR-KETTLE", "Brewing gear", 5999, 1.0),
    ("Tea Infuser", "GEAR-INF", "Brewing gear", 899, 2.0),
    ("Stoneware Mug", "MUG-STONE", "Mugs & drinkware", 1800, 4.0),
    ("Double-Wall Glasses (2)", "MUG-GLASS-2", "Mugs & drinkware", 2200, 2.0),
    ("Travel Tumbler", "MUG-TRAVEL", "Mugs & drinkware", 2800, 3.0),
    ("Espresso Cups (4)", "MUG-ESP-4", "Mugs & drinkware", 2600, 1.0),
    ("Linen Tea Towel", "HOME-TOWEL", "Kitchen & home", 1400, 2.0),
    ("Ceramic Canister", "HOME-CAN", "Kitchen & home", 3200, 1.0),
    ("Wildflower Honey 250g", "HOME-HONEY", "Kitchen & home", 1100, 2.0),
    ("Walnut Serving Board", "HOME-BOARD", "Kitchen & home", 4500, 1.0),
    ("Beeswax Candle", "HOME-CANDLE", "Kitchen & home", 1900, 2.0),
    ("Gift Card $25", "GIFT-25", "Gifts", 2500, 1.5),
    ("Gift Card $50", "GIFT-50", "Gifts", 5000, 1.0),
    ("Coffee Lover's Gift Box", "GIFT-BOX-COF", "Gifts", 5900, 1.0),
    ("Tea Time Gift Set", "GIFT-BOX-TEA", "Gifts", 4900, 1.0),
)
CATEGORIES = ("Coffee", "Tea", "Brewing gear", "Mugs & drinkware", "Kitchen & home", "Gifts")
FAVOURITE_CATEGORY_WEIGHTS = (0.55, 0.30, 0.05, 0.04, 0.03, 0.03)
FAVOURITE_CATEGORY_SHARE = 0.45  # share of order lines picked from the customer's favourite
HOLIDAY_CATEGORY_BOOST = {"Gifts": 4.0, "Mugs & drinkware": 1.5}  # Nov/Dec popularity
LINES_PER_ORDER_WEIGHTS = (0.55, 0.28, 0.12, 0.05)  # 1..4 lines
QUANTITY_WEIGHTS = (0.78, 0.16, 0.04, 0.02)  # 1..4 units

# --- people and places ------------------------------------------------------------------------
FEMALE_NAMES = (
    "Ann", "Maria", "Emma", "Olivia", "Sophia", "Isabella", "Mia", "Charlotte", "Amelia",
    "Harper", "Evelyn", "Abigail", "Emily", "Ella", "Grace", "Chloe", "Zoë", "Lily", "Hannah",
    "Nora", "Priya", "Aisha", "Mei", "Sofía", "Claire", "Laura", "Julia", "Sarah", "Rachel",
    "Anna", "Lena", "Ingrid",
)  # fmt: skip
MALE_NAMES = (
    "James", "John", "Robert", "Michael", "David", "William", "Daniel", "Matthew", "Joseph",
    "Thomas", "Christopher", "Andrew", "Ryan", "Kevin", "Brian", "Lucas", "Noah", "Liam",
    "Ethan", "Oliver", "José", "Luis", "Raj", "Wei", "Omar", "Ahmed", "Jonas", "Felix", "Lukas",
    "Ben", "Sam", "Tom",
)  # fmt: skip
NONBINARY_NAMES = ("Alex", "Jordan", "Taylor", "Casey", "Riley", "Morgan", "Avery", "Quinn")
LAST_NAMES = (
    "Lee", "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
    "Rodriguez", "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas",
    "Taylor", "Moore", "Jackson", "Martin", "Thompson", "White", "Harris", "Clark", "Lewis",
    "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Nguyen", "Hill",
    "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Patel", "Kim", "Chen", "Wang",
    "Singh", "Khan", "O'Brien", "Murphy", "Kelly", "Müller", "Schmidt", "Schneider", "Fischer",
    "Weber", "Dubois", "Rossi", "Silva", "Sato", "Cohen",
)  # fmt: skip
GENDER_WEIGHTS = (0.52, 0.44, 0.04)  # female, male, non-binary
GENDER_UNKNOWN_SHARE = 0.15  # gender not collected
BIRTHDAY_KNOWN_SHARE = 0.8
PHONE_KNOWN_SHARE = 0.85
UPPERCASE_EMAIL_SHARE = 0.05  # emails typed as "Ann.Lee12@example.com"
EMAIL_DOMAINS = ("example.com", "example.org", "example.net")
EMAIL_DOMAIN_WEIGHTS = (0.7, 0.15, 0.15)
EMAIL_SEPARATORS = ("", ".", "_")
# (use first name or its initial, separator, use last name, weight)
EMAIL_PATTERNS = (
    (False, ".", True, 0.5),
    (False, "", True, 0.15),
    (False, "", False, 0.15),
    (True, "", True, 0.1),
    (False, "_", True, 0.1),
)
# (city, region, country, weight, sales tax in basis points, phone prefix); phone numbers are
# in the ranges kept for fiction (555-0100..0199 in North America, Ofcom's drama numbers in GB).
LOCATIONS: tuple[tuple[str, str, str, float, int, str], ...] = (
    ("New York", "NY", "US", 9.0, 888, "+1 212-555-"),
    ("Brooklyn", "NY", "US", 4.0, 888, "+1 718-555-"),
    ("Los Angeles", "CA", "US", 7.0, 950, "+1 213-555-"),
    ("San Francisco", "CA", "US", 4.0, 863, "+1 415-555-"),
    ("San Diego", "CA", "US", 3.0, 775, "+1 619-555-"),
    ("Chicago", "IL", "US", 6.0, 1025, "+1 312-555-"),
    ("Houston", "TX", "US", 5.0, 825, "+1 713-555-"),
    ("Austin", "TX", "US", 4.0, 825, "+1 512-555-"),
    ("Dallas", "TX", "US", 3.0, 825, "+1 214-555-"),
    ("Seattle", "WA", "US", 5.0, 1035, "+1 206-555-"),
    ("Portland", "OR", "US", 4.0, 0, "+1 503-555-"),
    ("Denver", "CO", "US", 4.0, 881, "+1 303-555-"),
    ("Boston", "MA", "US", 4.0, 625, "+1 617-555-"),
    ("Philadelphia", "PA", "US", 3.0, 800, "+1 215-555-"),
    ("Atlanta", "GA", "US", 3.0, 890, "+1 404-555-"),
    ("Miami", "FL", "US", 3.0, 700, "+1 305-555-"),
    ("Minneapolis", "MN", "US", 2.0, 903, "+1 612-555-"),
    ("Nashville", "TN", "US", 2.0, 925, "+1 615-555-"),
    ("Phoenix", "AZ", "US", 2.0, 860, "+1 602-555-"),
    ("Raleigh", "NC", "US", 2.0, 725, "+1 919-555-"),
    ("Toronto", "ON", "CA", 1.3, 1300, "+1 416-555-"),
    ("Vancouver", "BC", "CA", 0.8, 1200, "+1 604-555-"),
    ("Montreal", "QC", "CA", 0.5, 1498, "+1 514-555-"),
    ("London", "England", "GB", 5.0, 0, "+44 20 7946 "),
    ("Manchester", "England", "GB", 1.5, 0, "+44 161 496 "),
    ("Edinburgh", "Scotland", "GB", 1.0, 0, "+44 131 496 "),
    ("Berlin", "Berlin", "DE", 0.8, 0, "+49 30 2309 "),
    ("Hamburg", "Hamburg", "DE", 0.4, 0, "+49 40 4608 "),
    ("Munich", "Bavaria", "DE", 0.4, 0, "+49 89 2191 "),
)
# Customers in these countries usually pay in their own currency (the rest pay USD).
PHONE_SUFFIX_RANGES = {"US": (100, 200), "CA": (100, 200), "GB": (0, 1000), "DE": (0, 10000)}
LOCAL_CURRENCIES = {"CA": ("CAD", 1.36), "DE": ("EUR", 0.92)}  # currency, rate per USD
LOCAL_CURRENCY_SHARE = 0.8
DAYS_PER_YEAR = 365.25
MIN_AGE_YEARS = 18
MAX_AGE_YEARS = 85
AGE_GAMMA = (4.0, 5.0)  # age = 18 + Gamma(shape, scale) years: mean 38
INTEREST_TAGS = (
    "coffee", "tea", "espresso", "pour-over", "home barista", "gifting", "sustainability",
    "wellness", "baking", "design", "organic", "subscriptions",
)  # fmt: skip
FAVOURITE_TAG = ("coffee", "tea", "pour-over", "design", "baking", "gifting")  # by category
FAVOURITE_TAG_SHARE = 0.7
TAG_COUNT_WEIGHTS = (0.45, 0.35, 0.20)  # 1..3 tags
# (acquisition channel, weight, chance to accept marketing, usual sales channel)
ACQUISITION_CHANNELS = (
    ("organic search", 0.24, 0.62, "online_store"),
    ("paid social", 0.18, 0.66, "online_store"),
    ("paid search", 0.14, 0.60, "online_store"),
    ("referral", 0.12, 0.64, "online_store"),
    ("influencer", 0.07, 0.70, "online_store"),
    ("marketplace", 0.09, 0.35, "marketplace"),
    ("retail store", 0.10, 0.55, "pos"),
    ("newsletter", 0.06, 0.95, "online_store"),
)
SALES_CHANNELS = ("online_store", "pos", "marketplace")
SALES_CHANNEL_WEIGHTS = (0.75, 0.15, 0.10)  # when a customer leaves their usual channel
USUAL_CHANNEL_SHARE = 0.9
SIGNUP_AT_CHECKOUT_SHARE = 0.55  # account created a few minutes before the first order
SIGNUP_CHECKOUT_SECONDS = (60, 1800)  # how long before the first order, at checkout
SIGNUP_MAX_DAYS_BEFORE = 60

# --- money ------------------------------------------------------------------------------------
# (code, percent off); the rules in _discount_codes say who gets which.
DISCOUNT_CODES = (
    ("WELCOME10", 10), ("SPRING15", 15), ("SUMMER10", 10), ("BFCM25", 25), ("VIP20", 20),
    ("NEWSLETTER10", 10),
)  # fmt: skip
WELCOME_SHARE = 0.30  # of first orders
BFCM_CODE_SHARE = 0.55  # of orders during Black Friday .. Cyber Monday
VIP_SHARE = 0.20  # of a customer's sixth and later orders
VIP_FROM_ORDER = 6
SEASON_CODE_SHARE = 0.20  # of orders in the SPRING15 and SUMMER10 seasons
SPRING = ((3, 15), 4)  # from March 15 to the end of April
SUMMER_MONTH = 7
NEWSLETTER_CODE_SHARE = 0.06  # any other order of a customer who accepts marketing
# Shipping in cents of the order currency: (flat fee, free from this subtotal, None = never)
SHIPPING_RULES: dict[tuple[str, str], tuple[int, int | None]] = {
    ("online_store", "US"): (599, 5000),
    ("online_store", "CA"): (999, 7500),
    ("online_store", "GB"): (1499, 10000),
    ("online_store", "DE"): (1499, 10000),
    ("marketplace", "US"): (499, None),
    ("marketplace", "CA"): (699, None),
    ("marketplace", "GB"): (1299, None),
    ("marketplace", "DE"): (1299, None),
}
# Order outcomes (shares of all orders): the rest are paid in full.
CANCELLED_SHARE = 0.02
FAILED_SHARE = 0.01
FULL_REFUND_SHARE = 0.02
PARTIAL_REFUND_SHARE = 0.05
PARTIAL_REFUND_RANGE = (0.1, 0.6)  # share of the total refunded
FIRST_ORDER_NUMBER = 100_001

# --- feedback ---------------------------------------------------------------------------------
NPS_SHARE = 0.25  # of buyers
NPS_SECOND_ANSWER_SHARE = 0.4  # of NPS respondents, asked again 90-365 days later
CSAT_SHARE = 0.10
REVIEW_SHARE = 0.05
SURVEY_DELAY_DAYS = (1, 14)
SECOND_SURVEY_DAYS = (90, 365)
NPS_COMMENT_SHARE = 0.7
CSAT_COMMENT_SHARE = 0.5
REVIEW_COMMENT_SHARE = 1.0
FOREIGN_COMMENT_SHARE = 0.04
# satisfaction = noise + loyalty - bad experiences; scores are its linear maps, clipped
SATISFACTION_LOYALTY = 0.55  # per log(orders)
SATISFACTION_FULL_REFUND = -1.6
SATISFACTION_PARTIAL_REFUND = -0.7
SATISFACTION_FAILED_ORDER = -0.6
NPS_MAP = (7.6, 1.8)  # score = a + b * (satisfaction + noise), clipped to 0..10
FIVE_POINT_MAP = (4.0, 0.9)  # CSAT and review stars, clipped to 1..5
NPS_NOISE = 0.5  # one answer's own mood (sd), on top of the customer's satisfaction
FIVE_POINT_NOISE = 0.6
COMMENTS = {
    "low": (
        "My order arrived late and nobody answered my emails.",
        "The beans tasted stale, not what I expected for the price.",
        "Shipping costs are too high.",
        "The mug arrived broken and the refund took weeks.",
        "Website kept failing at checkout.",
        "Too expensive for what you get.",
        "Customer service was unhelpful.",
        "Wrong item in the box, had to send it back.",
        "Coffee was fine but the packaging was damaged.",
        "I was charged twice and it took ages to fix.",
    ),
    "mid": (
        "Good coffee, delivery could be faster.",
        "Nice products but a bit pricey.",
        "Fine overall. The tea selection could be bigger.",
        "Decent quality, nothing special.",
        "I like the beans, the website is a bit clunky.",
        "Okay experience, would like more discounts for regulars.",
        "Good, but my favourite blend is often out of stock.",
        "Solid shop, shipping to my area is slow.",
    ),
    "high": (
        "Best coffee I've had at home. Fast shipping too!",
        "Love the House Blend, I reorder every month.",
        "Great service, they replaced a damaged mug right away.",
        "Beautiful packaging, perfect as a gift.",
        "The Earl Grey is fantastic.",
        "Always fresh, always on time.",
        "Friendly team and great recommendations.",
        "My go-to shop for coffee gifts.",
        "Excellent quality, worth every penny.",
        "The subscription makes my mornings.",
        "Amazing tea selection!",
        "Quick delivery and lovely notes in the box.",
    ),
}
FOREIGN_COMMENTS = {
    "low": (
        "El pedido llegó tarde y nadie respondió.",
        "Le café était éventé, très déçu.",
        "Die Lieferung hat viel zu lange gedauert.",
        "配送が遅すぎました。",
    ),
    "mid": (
        "Buen café, pero el envío es caro.",
        "Produits corrects, un peu chers.",
        "Ganz gut, aber die Auswahl an Tee ist klein.",
        "Bom café, entrega um pouco lenta.",
    ),
    "high": (
        "¡Me encanta este café!",
        "Excellent service, je recommande.",
        "Super Kaffee und schneller Versand!",
        "とても美味しいコーヒーです。",
        "Ótima loja, chegou rápido.",
    ),
}
REVIEW_TITLES = {
    "low": ("Disappointed", "Not worth it", "Arrived damaged", "Would not buy again"),
    "mid": ("It's okay", "Decent", "Good but pricey", "Not bad"),
    "high": ("Love it!", "Excellent", "Perfect gift", "My new favourite", "Five stars"),
}


class DemoSummary(BaseModel):
    """What :func:`load_demo` wrote: row counts and the period ``[start, end)``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    customers: int
    orders: int
    order_lines: int
    feedback: int
    start: date
    end: date


def demo_period(end: date, months: int = DEMO_MONTHS) -> tuple[date, date]:
    """The demo shop's period ``[start, end)``: ``months`` calendar months before ``end``.

    >>> demo_period(date(2025, 6, 30))
    (datetime.date(2022, 12, 30), datetime.date(2025, 6, 30))
    """
    year, month0 = divmod(end.year * 12 + end.month - 1 - months, 12)
    next_month = date(year + 1, 1, 1) if month0 == 11 else date(year, month0 + 2, 1)
    last_day = (next_month - timedelta(days=1)).day
    return date(year, month0 + 1, min(end.day, last_day)), end


def load_demo(
    conn: duckdb.DuckDBPyConnection,
    *,
    customers: int = DEFAULT_CUSTOMERS,
    seed: int = DEFAULT_SEED,
    end: date | None = None,
    actor: str = DEFAULT_ACTOR,
    progress: ProgressCallback | None = None,
) -> DemoSummary:
    """Replace the shop's data with the demo shop, in one transaction.

    Deletes every row of :data:`relmark_core.store.DATA_TABLES` and of the import history
    (:data:`IMPORT_HISTORY_TABLES`), writes the generated customers, orders, order lines and
    feedback, marks the store as demo data (meta ``demo`` = ``'1'``, ``initialised`` =
    ``'1'``), sets the reporting currency to USD, records the change in the audit log and
    bumps the data version. If anything fails, the old data stays.

    Parameters
    ----------
    conn
        An open store (see :func:`relmark_core.store.open_db`).
    customers
        How many customers to invent; they place about 2.5 orders each on average
        (4,000,000 customers give about 10M orders).
    seed
        The random seed: the same seed, end date and customer count give the same shop.
    end
        The end of the period, exclusive: the last orders are on the day before. Default:
        today (UTC).
    actor
        Who asked for it (recorded in the audit log).
    progress
        Called as ``progress(fraction, message)`` after each chunk of customers and at the end.

    Returns
    -------
    DemoSummary
        Row counts and the period covered.

    Raises
    ------
    NotAllowed
        The actor is not an admin (the first start and the CLI act as system actors).
    """
    auth.require(conn, actor, auth.Role.ADMIN, "replace the shop's data with the demo shop")
    if customers < 1:
        raise InputRefused(
            f"The demo shop needs at least 1 customer; {customers} was asked for. "
            "Give a positive number of customers."
        )
    if seed < 0:
        raise InputRefused(f"The demo seed must be 0 or a positive whole number; got {seed}.")
    if end is None:
        end = store.utc_now().date()
    cal = _Calendar.build(end)
    chunk_size = CHUNK_CUSTOMERS
    counters = _Counters()
    with store.transaction(conn):
        _delete_shop_data(conn)
        for chunk_index, first in enumerate(range(0, customers, chunk_size)):
            size = min(chunk_size, customers - first)
            rng = np.random.default_rng([seed, chunk_index])
            _insert_chunk(conn, _generate_chunk(rng, cal, first, size, customers, counters))
            if progress is not None:
                done = first + size
                progress(
                    PROGRESS_BEFORE_COMMIT * done / customers,
                    f"Made {done:,} of {customers:,} demo customers ({counters.orders:,} orders)",
                )
        _run(conn, _KEYS_SQL)
        _run(conn, _CONSENT_SQL)
        conn.execute(
            "INSERT OR REPLACE INTO settings VALUES ('reporting_currency', ?, ?, ?)",
            [DEMO_CURRENCY, actor, store.utc_now()],
        )
        store.set_meta(conn, "demo", "1")
        store.set_meta(conn, "initialised", "1")
        store.audit(
            conn,
            actor,
            "demo data loaded",
            f"{customers} customers, {counters.orders} orders, {counters.feedback} feedback "
            f"answers; seed {seed}, {cal.start.isoformat()} to {end.isoformat()} (exclusive)",
        )
        store.bump_data_version(conn)
    if progress is not None:
        progress(1.0, f"Demo shop ready: {customers:,} customers, {counters.orders:,} orders")
    return DemoSummary(
        customers=customers,
        orders=counters.orders,
        order_lines=counters.lines,
        feedback=counters.feedback,
        start=cal.start,
        end=end,
    )


def clear_shop_data(conn: duckdb.DuckDBPyConnection, *, actor: str = DEFAULT_ACTOR) -> None:
    """Start empty: delete the shop's data and the import history, keep Relmark's own state.

    Every row of :data:`relmark_core.store.DATA_TABLES` and of :data:`IMPORT_HISTORY_TABLES`
    goes (undoing an old import makes no sense afterwards); settings, mappings, definitions
    and the audit log stay. Marks the store as not demo (meta ``demo`` = ``'0'``,
    ``initialised`` = ``'1'``), records the change and bumps the data version, in one
    transaction. Admins only.
    """
    auth.require(conn, actor, auth.Role.ADMIN, "clear the shop's data")
    with store.transaction(conn):
        _delete_shop_data(conn)
        store.set_meta(conn, "demo", "0")
        store.set_meta(conn, "initialised", "1")
        store.audit(conn, actor, "shop data cleared", "all customers, orders and feedback")
        store.bump_data_version(conn)


def _delete_shop_data(conn: duckdb.DuckDBPyConnection) -> None:
    # Table names come from constant lists, never from a user.
    for table in (*store.DATA_TABLES, *IMPORT_HISTORY_TABLES):
        conn.execute(f"DELETE FROM {table}")  # noqa: S608


# --- generation -------------------------------------------------------------------------------


@dataclass
class _Counters:
    """Running numbers across chunks: order and response numbers, row counts."""

    orders: int = 0
    lines: int = 0
    feedback: int = 0
    responses: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Calendar:
    """Day-level shape of the period: seasonality and the clocks built from it."""

    start: date
    end: date
    days: int
    start_epoch_s: int
    month: IntArray  # calendar month (1-12) of each day
    day_of_month: IntArray
    bfcm: BoolArray  # Black Friday .. Cyber Monday
    holiday: BoolArray  # November and December
    edges: FloatArray  # day boundaries 0..days
    op_edges: FloatArray  # "operational" time at each day boundary: a clock that runs seasonally
    acq_cdf: FloatArray  # share of customers who arrived before each day boundary

    @classmethod
    def build(cls, end: date) -> _Calendar:
        start, _ = demo_period(end)
        days = (end - start).days
        day_numbers = np.arange(days, dtype=np.int64) + (start - _EPOCH).days
        dates = day_numbers.astype("datetime64[D]")
        month = dates.astype("datetime64[M]").astype(np.int64) % 12 + 1
        day_of_month = (dates - dates.astype("datetime64[M]")).astype(np.int64) + 1
        weekday = (day_numbers + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        bfcm = np.zeros(days, dtype=np.bool_)
        for year in range(start.year, end.year + 1):
            nov1 = date(year, 11, 1)
            black_friday = nov1 + timedelta(days=(3 - nov1.weekday()) % 7 + 22)
            first = (black_friday - start).days
            bfcm[min(max(first, 0), days) : min(max(first + BFCM_DAYS, 0), days)] = True
        season = np.asarray(MONTH_FACTORS)[month - 1] * np.asarray(WEEKDAY_FACTORS)[weekday]
        season = np.where(bfcm, season * BFCM_FACTOR, season)
        for day, factor in CHRISTMAS_LULL:
            season = np.where((month == 12) & (day_of_month == day), season * factor, season)
        op_edges = np.concatenate([[0.0], np.cumsum(season)])
        op_edges *= days / op_edges[-1]
        growth = 1.0 + (ACQUISITION_GROWTH - 1.0) * (np.arange(days) + 0.5) / days
        acq_cdf = np.concatenate([[0.0], np.cumsum(growth * season)])
        acq_cdf /= acq_cdf[-1]
        return cls(
            start=start,
            end=end,
            days=days,
            start_epoch_s=(start - _EPOCH).days * SECONDS_PER_DAY,
            month=month,
            day_of_month=day_of_month,
            bfcm=bfcm,
            holiday=month >= 11,
            edges=np.arange(days + 1, dtype=np.float64),
            op_edges=op_edges,
            acq_cdf=acq_cdf,
        )


def _slug(name: str) -> str:
    """``"O'Brien"`` -> ``"obrien"``, ``"Zoë"`` -> ``"zoe"``: the name as it goes in an email."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_name.lower() if ch.isalnum())


_FIRST_NAMES = FEMALE_NAMES + MALE_NAMES + NONBINARY_NAMES
_NAME_RANGES = np.asarray(
    [
        (0, len(FEMALE_NAMES)),
        (len(FEMALE_NAMES), len(FEMALE_NAMES) + len(MALE_NAMES)),
        (len(FEMALE_NAMES) + len(MALE_NAMES), len(_FIRST_NAMES)),
    ],
    dtype=np.int64,
)
_GENDERS = ("female", "male", "non-binary")
# Order outcomes, in the order of the shares drawn in _orders; the last two are both 'paid'.
_CANCELLED, _FAILED, _REFUNDED, _PARTLY_REFUNDED, _PAID = range(5)
_STATUSES = ("cancelled", "failed", "refunded", "paid", "paid")
_CURRENCIES = (DEMO_CURRENCY, *(code for code, _ in LOCAL_CURRENCIES.values()))
_FEEDBACK_KINDS = ("nps", "csat", "review")
_BUCKETS = ("low", "mid", "high")
_COMMENT_GROUPS = [COMMENTS[b] for b in _BUCKETS] + [FOREIGN_COMMENTS[b] for b in _BUCKETS]
_TITLE_GROUPS = [REVIEW_TITLES[b] for b in _BUCKETS]
_PRODUCT_CATEGORY = np.asarray([CATEGORIES.index(p[2]) for p in PRODUCTS], dtype=np.int64)
_PRODUCT_PRICE = np.asarray([p[3] for p in PRODUCTS], dtype=np.int64)

# The texts each chunk refers to by number; the INSERT statements turn numbers into text,
# so DuckDB owns every string it stores (Arrow strings would stay pinned until the commit).
_LOOKUPS: dict[str, list[str]] = {
    "first_names": list(_FIRST_NAMES),
    "last_names": list(LAST_NAMES),
    "email_heads": [_slug(x) for x in _FIRST_NAMES] + [_slug(x)[0] for x in _FIRST_NAMES],
    "email_seps": list(EMAIL_SEPARATORS),
    "email_tails": [_slug(x) for x in LAST_NAMES],
    "email_domains": list(EMAIL_DOMAINS),
    "genders": list(_GENDERS),
    "cities": [loc[0] for loc in LOCATIONS],
    "regions": [loc[1] for loc in LOCATIONS],
    "countries": [loc[2] for loc in LOCATIONS],
    "phone_prefixes": [loc[5] for loc in LOCATIONS],
    "tags": list(INTEREST_TAGS),
    "acquisition_channels": [c[0] for c in ACQUISITION_CHANNELS],
    "currencies": list(_CURRENCIES),
    "statuses": list(_STATUSES),
    "sales_channels": list(SALES_CHANNELS),
    "discount_codes": [c[0] for c in DISCOUNT_CODES],
    "products": [p[0] for p in PRODUCTS],
    "skus": [p[1] for p in PRODUCTS],
    "product_categories": [p[2] for p in PRODUCTS],
    "feedback_kinds": list(_FEEDBACK_KINDS),
    "comments": [t for group in _COMMENT_GROUPS for t in group],
    "titles": [t for group in _TITLE_GROUPS for t in group],
}


def _weights(values: Sequence[float] | FloatArray) -> FloatArray:
    w = np.asarray(values, dtype=np.float64)
    return w / w.sum()


def _choice(rng: np.random.Generator, weights: Sequence[float] | FloatArray, size: int) -> IntArray:
    """Indices 0..len(weights)-1 drawn with the given (unnormalised) weights."""
    cdf = np.cumsum(_weights(weights))
    cdf[-1] = 1.0
    return np.searchsorted(cdf, rng.random(size), side="right").astype(np.int64)


def _uniform_int(rng: np.random.Generator, lo: IntArray, hi: IntArray) -> IntArray:
    """One integer in ``[lo, hi)`` for each row."""
    return lo + (rng.random(lo.size) * (hi - lo)).astype(np.int64)


def _group_starts(counts: IntArray) -> IntArray:
    """Index of each group's first element in the flattened array."""
    return np.cumsum(counts) - counts


def _rank_in_group(counts: IntArray) -> IntArray:
    """0, 1, 2... within each group of the flattened array."""
    return np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(_group_starts(counts), counts)


def _codes(values: IntArray) -> Any:
    """An Arrow integer column where -1 means missing."""
    return pa.array(values, pa.int64(), mask=values < 0)


@dataclass(frozen=True)
class _People:
    """One chunk's customers (arrays indexed by the customer's place in the chunk)."""

    number: IntArray  # customer number: 1.. over the whole shop, in order of arrival
    arrival: FloatArray  # day (fractional) of the first order, or of signing up
    buyer: BoolArray
    location: IntArray
    country: npt.NDArray[np.str_]
    currency: IntArray
    fx: FloatArray  # order currency per USD
    accepts: BoolArray
    usual_sales: IntArray
    favourite: IntArray  # category


def _people(
    rng: np.random.Generator, cal: _Calendar, first: int, n: int, total: int
) -> tuple[_People, dict[str, Any]]:
    """Who the chunk's customers are, and their columns for the customers table."""
    number = np.arange(first + 1, first + n + 1, dtype=np.int64)
    # Stratified arrival times: customer numbers follow the order in which people arrived.
    arrival = np.interp((number - 1 + rng.random(n)) / total, cal.acq_cdf, cal.edges)
    buyer = rng.random(n) >= NEVER_ORDERED_SHARE
    location = _choice(rng, [loc[3] for loc in LOCATIONS], n)
    country = np.asarray([loc[2] for loc in LOCATIONS])[location]
    currency = np.zeros(n, dtype=np.int64)
    fx = np.ones(n)
    pays_local = rng.random(n) < LOCAL_CURRENCY_SHARE
    for code, (name, rate) in LOCAL_CURRENCIES.items():
        local = pays_local & (country == code)
        currency[local] = _CURRENCIES.index(name)
        fx[local] = rate
    gender = _choice(rng, GENDER_WEIGHTS, n)
    first_name = _uniform_int(rng, _NAME_RANGES[gender, 0], _NAME_RANGES[gender, 1])
    last_name = rng.integers(0, len(LAST_NAMES), n).astype(np.int64)
    gender = np.where(rng.random(n) < GENDER_UNKNOWN_SHARE, -1, gender)
    channel = _choice(rng, [c[1] for c in ACQUISITION_CHANNELS], n)
    accepts = rng.random(n) < np.asarray([c[2] for c in ACQUISITION_CHANNELS])[channel]
    usual = np.asarray([SALES_CHANNELS.index(c[3]) for c in ACQUISITION_CHANNELS])[channel]
    favourite = _choice(rng, FAVOURITE_CATEGORY_WEIGHTS, n)

    # Email: first name (or its initial), separator, last name (or nothing), customer number.
    pattern = _choice(rng, [p[3] for p in EMAIL_PATTERNS], n)
    initial = np.asarray([p[0] for p in EMAIL_PATTERNS])[pattern]
    with_last = np.asarray([p[2] for p in EMAIL_PATTERNS])[pattern]
    separator = np.asarray([EMAIL_SEPARATORS.index(p[1]) for p in EMAIL_PATTERNS])[pattern]
    phone_lo = np.asarray([PHONE_SUFFIX_RANGES[c][0] for c in country], dtype=np.int64)
    phone_hi = np.asarray([PHONE_SUFFIX_RANGES[c][1] for c in country], dtype=np.int64)
    phone = np.where(rng.random(n) < PHONE_KNOWN_SHARE, _uniform_int(rng, phone_lo, phone_hi), -1)
    age_years = np.minimum(MIN_AGE_YEARS + rng.gamma(*AGE_GAMMA, n), MAX_AGE_YEARS)
    birthday = (cal.end - _EPOCH).days - (age_years * DAYS_PER_YEAR).astype(np.int64)
    birthday_known = rng.random(n) < BIRTHDAY_KNOWN_SHARE
    domain = _choice(rng, EMAIL_DOMAIN_WEIGHTS, n)
    typed_upper = rng.random(n) < UPPERCASE_EMAIL_SHARE

    # Interests: 1-3 distinct tags, usually led by the favourite category's tag.
    n_tags = _choice(rng, TAG_COUNT_WEIGHTS, n) + 1
    keys = rng.random((n, len(INTEREST_TAGS)))
    fav_tag = np.asarray([INTEREST_TAGS.index(t) for t in FAVOURITE_TAG])[favourite]
    leads = np.flatnonzero(rng.random(n) < FAVOURITE_TAG_SHARE)
    keys[leads, fav_tag[leads]] = -1.0
    ranked = np.argsort(keys, axis=1)
    tag_idx = ranked[np.arange(len(INTEREST_TAGS))[None, :] < n_tags[:, None]]
    tag_offsets = np.concatenate([[0], np.cumsum(n_tags)]).astype(np.int32)

    people = _People(
        number=number,
        arrival=arrival,
        buyer=buyer,
        location=location,
        country=country,
        currency=currency,
        fx=fx,
        accepts=accepts,
        usual_sales=usual,
        favourite=favourite,
    )
    columns = {
        "customer_no": pa.array(number),
        "first_name": pa.array(first_name),
        "last_name": pa.array(last_name),
        "email_head": pa.array(first_name + initial * len(_FIRST_NAMES)),
        "email_sep": pa.array(np.where(with_last, separator, 0)),
        "email_tail": _codes(np.where(with_last, last_name, -1)),
        "email_domain": pa.array(domain),
        "typed_upper": pa.array(typed_upper),
        "phone_suffix": _codes(phone),
        "birthday": pa.array(birthday.astype(np.int32), pa.date32(), mask=~birthday_known),
        "gender": _codes(gender),
        "location": pa.array(location),
        "accepts_marketing": pa.array(accepts),
        "tags": pa.ListArray.from_arrays(pa.array(tag_offsets), pa.array(tag_idx, pa.int64())),
        "channel": pa.array(channel),
    }
    return people, columns


def _order_days(
    rng: np.random.Generator, cal: _Calendar, p: _People
) -> tuple[IntArray, FloatArray]:
    """Each order's customer (place in the chunk) and day, first orders first.

    After the first order a customer buys at a personal rate (Gamma) on the seasonal clock and
    may drop out after each purchase (Beta): the first ``min(stays, events)`` of the ``events``
    uniform points on the remaining clock time, built from exponential gaps and one Gamma draw
    for the gaps that are never reached.
    """
    n = p.number.size
    op_arrival = np.interp(p.arrival, cal.edges, cal.op_edges)
    remaining = cal.op_edges[-1] - op_arrival
    rate = np.minimum(rng.gamma(PURCHASE_RATE_SHAPE, PURCHASE_RATE_SCALE, n), MAX_PURCHASE_RATE)
    dropout = np.clip(rng.beta(DROPOUT_A, DROPOUT_B, n), MIN_DROPOUT, 1.0)
    stays = rng.geometric(dropout) - 1  # repeat purchases before dropping out
    events = rng.poisson(rate * remaining)  # repeat purchases had they stayed
    repeats = np.where(p.buyer, np.minimum(stays, events), 0).astype(np.int64)
    has = repeats > 0
    who = np.repeat(np.arange(n, dtype=np.int64), repeats)
    gaps = rng.standard_exponential(int(repeats.sum()))
    running = np.cumsum(gaps)
    starts = _group_starts(repeats)[has]
    within = running - np.repeat(running[starts] - gaps[starts], repeats[has])
    reached = within[(np.cumsum(repeats) - 1)[has]]
    unreached = rng.gamma((events - repeats + 1)[has].astype(np.float64))
    share = within / np.repeat(reached + unreached, repeats[has])
    op_day = op_arrival[who] + remaining[who] * share
    buyers = np.flatnonzero(p.buyer).astype(np.int64)
    day = np.concatenate([p.arrival[buyers], np.interp(op_day, cal.op_edges, cal.edges)])
    return np.concatenate([buyers, who]), day


def _time_of_day(rng: np.random.Generator, size: int) -> IntArray:
    hour = _choice(rng, HOUR_WEIGHTS, size)
    return hour * 3600 + rng.integers(0, 3600, size).astype(np.int64)


def _pick_products(
    rng: np.random.Generator, favourite: IntArray, from_favourite: BoolArray, holiday: BoolArray
) -> IntArray:
    """A product for each line: from the favourite category, or the whole (seasonal) range."""
    popularity = np.asarray([p[4] for p in PRODUCTS], dtype=np.float64)
    boost = np.asarray([HOLIDAY_CATEGORY_BOOST.get(p[2], 1.0) for p in PRODUCTS])
    any_cdf = np.cumsum(_weights(popularity))
    holiday_cdf = np.cumsum(_weights(popularity * boost))
    any_cdf[-1] = holiday_cdf[-1] = 1.0
    u = rng.random(favourite.size)
    product = np.where(
        holiday,
        np.searchsorted(holiday_cdf, u, side="right"),
        np.searchsorted(any_cdf, u, side="right"),
    ).astype(np.int64)
    # Within the favourite category: a padded table of cumulative shares per category.
    width = int(np.bincount(_PRODUCT_CATEGORY).max())
    members = np.zeros((len(CATEGORIES), width), dtype=np.int64)
    cdf = np.ones((len(CATEGORIES), width), dtype=np.float64)
    for c in range(len(CATEGORIES)):
        ids = np.flatnonzero(_PRODUCT_CATEGORY == c)
        members[c, : ids.size] = ids
        cdf[c, : ids.size - 1] = np.cumsum(_weights(popularity[ids]))[:-1]
    rows = favourite[from_favourite]
    pick = (u[from_favourite, None] >= cdf[rows]).sum(axis=1)
    product[from_favourite] = members[rows, pick]
    return product


def _discount_codes(
    rng: np.random.Generator, cal: _Calendar, day: IntArray, seq: IntArray, accepts: BoolArray
) -> IntArray:
    """Index into DISCOUNT_CODES for each order, -1 for none (the first matching rule wins)."""
    codes = [c[0] for c in DISCOUNT_CODES]
    month, day_of_month = cal.month[day], cal.day_of_month[day]
    u = rng.random(day.size)
    spring = ((month == SPRING[0][0]) & (day_of_month >= SPRING[0][1])) | (month == SPRING[1])
    rules = [
        (cal.bfcm[day] & (u < BFCM_CODE_SHARE), "BFCM25"),
        ((seq >= VIP_FROM_ORDER - 1) & (u < VIP_SHARE), "VIP20"),
        ((seq == 0) & (u < WELCOME_SHARE), "WELCOME10"),
        (spring & (u < SEASON_CODE_SHARE), "SPRING15"),
        ((month == SUMMER_MONTH) & (u < SEASON_CODE_SHARE), "SUMMER10"),
        (accepts & (u < NEWSLETTER_CODE_SHARE), "NEWSLETTER10"),
    ]
    chosen = np.select([r[0] for r in rules], [codes.index(r[1]) for r in rules], -1)
    return chosen.astype(np.int64)


@dataclass(frozen=True)
class _Orders:
    """One chunk's orders, sorted by customer and time."""

    customer: IntArray  # place in the chunk
    seconds: IntArray  # since the start of the period
    first_of_customer: IntArray  # index of each customer's first order (per customer)
    count_of_customer: IntArray  # orders per customer
    outcome: IntArray  # _CANCELLED .. _PAID
    first_line: IntArray  # index of each order's first line
    line_product: IntArray


def _orders(
    rng: np.random.Generator, cal: _Calendar, p: _People, first_order_no: int
) -> tuple[_Orders, dict[str, Any], dict[str, Any]]:
    """Orders and their lines: columns for the orders and order_lines tables."""
    n = p.number.size
    customer, day_f = _order_days(rng, cal, p)
    day = np.minimum(day_f.astype(np.int64), cal.days - 1)
    seconds = day * SECONDS_PER_DAY + _time_of_day(rng, customer.size)
    order = np.lexsort((seconds, customer))
    customer, day, seconds = customer[order], day[order], seconds[order]
    per_customer = np.bincount(customer, minlength=n).astype(np.int64)
    seq = _rank_in_group(per_customer)  # 0 = the customer's first order
    m = customer.size

    # Lines: 1-4 products (no product twice in an order), 1-4 units each.
    n_lines = _choice(rng, LINES_PER_ORDER_WEIGHTS, m) + 1
    line_order = np.repeat(np.arange(m, dtype=np.int64), n_lines)
    from_favourite = rng.random(line_order.size) < FAVOURITE_CATEGORY_SHARE
    holiday = cal.holiday[day][line_order]
    product = _pick_products(rng, p.favourite[customer][line_order], from_favourite, holiday)
    keep = np.unique(line_order * len(PRODUCTS) + product, return_index=True)[1]
    line_order, product = line_order[keep], product[keep]  # by order, then product
    quantity = _choice(rng, QUANTITY_WEIGHTS, line_order.size) + 1
    fx = p.fx[customer][line_order]
    usd = _PRODUCT_PRICE[product]
    local_price = np.ceil(usd * fx / 100.0).astype(np.int64) * 100 - 1  # x.99 in CAD / EUR
    unit_price = np.where(fx == 1.0, usd, local_price)
    lines_per_order = np.bincount(line_order, minlength=m).astype(np.int64)
    subtotal = np.bincount(line_order, weights=quantity * unit_price, minlength=m)
    subtotal = np.rint(subtotal).astype(np.int64)

    # Money: discount code, shipping by channel and country, sales tax by city.
    country = p.country[customer]
    other_channel = rng.random(m) >= USUAL_CHANNEL_SHARE
    sales = np.where(other_channel, _choice(rng, SALES_CHANNEL_WEIGHTS, m), p.usual_sales[customer])
    code = _discount_codes(rng, cal, day, seq, p.accepts[customer])
    percent = np.asarray([0, *(c[1] for c in DISCOUNT_CODES)], dtype=np.int64)[code + 1]
    discounts = (subtotal * percent + 50) // 100
    after_discount = subtotal - discounts
    shipping = np.zeros(m, dtype=np.int64)
    for (channel, ctry), (fee, free_from) in SHIPPING_RULES.items():
        pays = (sales == SALES_CHANNELS.index(channel)) & (country == ctry)
        if free_from is not None:
            pays &= after_discount < free_from
        shipping[pays] = fee
    tax_bp = np.asarray([loc[4] for loc in LOCATIONS], dtype=np.int64)[p.location[customer]]
    tax = (after_discount * tax_bp + 5000) // 10_000
    total = after_discount + shipping + tax

    # Outcome: cancelled, failed, fully refunded, partly refunded, or paid.
    cuts = np.cumsum([CANCELLED_SHARE, FAILED_SHARE, FULL_REFUND_SHARE, PARTIAL_REFUND_SHARE])
    outcome = np.searchsorted(cuts, rng.random(m), side="right").astype(np.int64)
    lo, hi = PARTIAL_REFUND_RANGE
    part = (total * (lo + (hi - lo) * rng.random(m))).astype(np.int64)
    outcome = np.where((outcome == _PARTLY_REFUNDED) & (total < 2), _PAID, outcome)
    refunds = np.where(
        outcome == _REFUNDED,
        total,
        np.where(outcome == _PARTLY_REFUNDED, np.clip(part, 1, np.maximum(total - 1, 1)), 0),
    )

    number = first_order_no + np.arange(m, dtype=np.int64)
    orders = _Orders(
        customer=customer,
        seconds=seconds,
        first_of_customer=_group_starts(per_customer),
        count_of_customer=per_customer,
        outcome=outcome,
        first_line=_group_starts(lines_per_order),
        line_product=product,
    )
    order_columns = {
        "order_no": pa.array(number),
        "customer_no": pa.array(p.number[customer]),
        "ordered_at": pa.array(seconds + cal.start_epoch_s, pa.timestamp("s")),
        "currency": pa.array(p.currency[customer]),
        "subtotal": pa.array(subtotal),
        "discounts": pa.array(discounts),
        "shipping": pa.array(shipping),
        "tax": pa.array(tax),
        "total": pa.array(total),
        "refunds": pa.array(refunds),
        "net": pa.array(total - refunds),
        "status": pa.array(outcome),
        "sales_channel": pa.array(sales),
        "discount_code": _codes(code),
    }
    line_columns = {
        "order_no": pa.array(number[line_order]),
        "line_no": pa.array((_rank_in_group(lines_per_order) + 1).astype(np.int32)),
        "product": pa.array(product),
        "quantity": pa.array(quantity.astype(np.int32)),
        "unit_price": pa.array(unit_price),
    }
    return orders, order_columns, line_columns


def _signup(rng: np.random.Generator, p: _People, o: _Orders) -> IntArray:
    """Signup second: a few minutes or up to two months before the first order, or on arrival."""
    n = p.number.size
    arrived = (p.arrival * SECONDS_PER_DAY).astype(np.int64)
    at_checkout = rng.random(n) < SIGNUP_AT_CHECKOUT_SHARE
    lo, hi = SIGNUP_CHECKOUT_SECONDS
    lead = np.where(
        at_checkout,
        rng.integers(lo, hi, n).astype(np.int64),
        (rng.random(n) * SIGNUP_MAX_DAYS_BEFORE * SECONDS_PER_DAY).astype(np.int64),
    )
    if o.seconds.size == 0:
        return arrived
    first_order = o.seconds[np.minimum(o.first_of_customer, o.seconds.size - 1)]
    return np.where(o.count_of_customer > 0, np.maximum(first_order - lead, 0), arrived)


def _feedback(
    rng: np.random.Generator, cal: _Calendar, p: _People, o: _Orders, counters: _Counters
) -> dict[str, Any]:
    """NPS, CSAT and review answers of a share of buyers, each a few days after an order.

    Scores follow a satisfaction that rises with the number of orders and falls after a
    refund, a cancellation or a failed payment; comments come from the score's bucket.
    """
    n = p.number.size
    end_second = cal.days * SECONDS_PER_DAY
    count = o.count_of_customer

    def had(*outcomes: int) -> FloatArray:
        hit = np.isin(o.outcome, outcomes).astype(np.float64)
        return (np.bincount(o.customer, weights=hit, minlength=n) > 0).astype(np.float64)

    satisfaction = (
        rng.standard_normal(n)
        + SATISFACTION_LOYALTY * np.log(np.maximum(count, 1))
        + SATISFACTION_FULL_REFUND * had(_REFUNDED)
        + SATISFACTION_PARTIAL_REFUND * had(_PARTLY_REFUNDED)
        + SATISFACTION_FAILED_ORDER * had(_CANCELLED, _FAILED)
    )

    def answer_after_an_order(share: float) -> tuple[IntArray, IntArray, IntArray]:
        who = np.flatnonzero((count > 0) & (rng.random(n) < share)).astype(np.int64)
        pick = o.first_of_customer[who] + (rng.random(who.size) * count[who]).astype(np.int64)
        lo, hi = SURVEY_DELAY_DAYS
        delay = ((lo + (hi - lo) * rng.random(who.size)) * SECONDS_PER_DAY).astype(np.int64)
        room = end_second - 1 - o.seconds[pick]  # seconds left before the end
        late = np.minimum(1 + (room * rng.random(who.size)).astype(np.int64), room)
        return who, pick, o.seconds[pick] + np.where(delay <= room, delay, late)

    nps_who, _, nps_at = answer_after_an_order(NPS_SHARE)
    lo, hi = SECOND_SURVEY_DAYS
    gap = ((lo + (hi - lo) * rng.random(nps_who.size)) * SECONDS_PER_DAY).astype(np.int64)
    again = (rng.random(nps_who.size) < NPS_SECOND_ANSWER_SHARE) & (nps_at + gap < end_second)
    csat_who, _, csat_at = answer_after_an_order(CSAT_SHARE)
    review_who, review_pick, review_at = answer_after_an_order(REVIEW_SHARE)
    sizes = np.asarray([nps_who.size + int(again.sum()), csat_who.size, review_who.size])
    kind = np.repeat(np.arange(len(_FEEDBACK_KINDS), dtype=np.int64), sizes)
    who = np.concatenate([nps_who, nps_who[again], csat_who, review_who])
    at = np.concatenate([nps_at, (nps_at + gap)[again], csat_at, review_at])
    product = np.concatenate(
        [np.full(sizes[0] + sizes[1], -1), o.line_product[o.first_line[review_pick]]]
    ).astype(np.int64)
    order = np.lexsort((at, who, kind))
    kind, who, at, product = kind[order], who[order], at[order], product[order]

    nps = kind == _FEEDBACK_KINDS.index("nps")
    mood = satisfaction[who] + np.where(nps, NPS_NOISE, FIVE_POINT_NOISE) * rng.standard_normal(
        who.size
    )
    (a, b), (a5, b5) = NPS_MAP, FIVE_POINT_MAP
    score = np.where(
        nps, np.clip(np.rint(a + b * mood), 0, 10), np.clip(np.rint(a5 + b5 * mood), 1, 5)
    ).astype(np.int64)
    low_cut, high_cut = np.where(nps, 7, 3), np.where(nps, 9, 4)  # 0-6 / 7-8 / 9-10, 1-2 / 3 / 4-5
    bucket = (score >= low_cut).astype(np.int64) + (score >= high_cut).astype(np.int64)
    comment_share = np.asarray([NPS_COMMENT_SHARE, CSAT_COMMENT_SHARE, REVIEW_COMMENT_SHARE])
    has_comment = rng.random(who.size) < comment_share[kind]
    foreign = rng.random(who.size) < FOREIGN_COMMENT_SHARE
    comment = _pick_text(rng, _COMMENT_GROUPS, bucket + len(_BUCKETS) * foreign)
    title = _pick_text(rng, _TITLE_GROUPS, bucket)
    is_review = kind == _FEEDBACK_KINDS.index("review")

    response_no = _rank_in_group(sizes) + 1
    for k, name in enumerate(_FEEDBACK_KINDS):
        response_no[kind == k] += counters.responses.get(name, 0)
        counters.responses[name] = counters.responses.get(name, 0) + int(sizes[k])
    return {
        "response_no": pa.array(response_no),
        "kind": pa.array(kind),
        "customer_no": pa.array(p.number[who]),
        "answered_at": pa.array(at + cal.start_epoch_s, pa.timestamp("s")),
        "score": pa.array(score.astype(np.int32)),
        "comment": _codes(np.where(has_comment, comment, -1)),
        "product": _codes(product),
        "title": _codes(np.where(is_review, title, -1)),
    }


def _pick_text(
    rng: np.random.Generator, groups: Sequence[Sequence[str]], group: IntArray
) -> IntArray:
    """A random text of each row's group, as an index into the groups laid end to end."""
    sizes = np.asarray([len(g) for g in groups], dtype=np.int64)
    offsets = np.cumsum(sizes) - sizes
    return offsets[group] + (rng.random(group.size) * sizes[group]).astype(np.int64)


def _generate_chunk(
    rng: np.random.Generator, cal: _Calendar, first: int, n: int, total: int, counters: _Counters
) -> dict[str, Any]:
    """Customers ``first+1 .. first+n`` with their orders, lines and feedback, as Arrow tables."""
    people, customer_columns = _people(rng, cal, first, n, total)
    orders, order_columns, line_columns = _orders(
        rng, cal, people, FIRST_ORDER_NUMBER + counters.orders
    )
    signup = _signup(rng, people, orders)
    customer_columns["signup_at"] = pa.array(signup + cal.start_epoch_s, pa.timestamp("s"))
    feedback_columns = _feedback(rng, cal, people, orders, counters)
    counters.orders += len(order_columns["order_no"])
    counters.lines += len(line_columns["order_no"])
    counters.feedback += len(feedback_columns["response_no"])
    return {
        "customers": pa.table(customer_columns),
        "orders": pa.table(order_columns),
        "lines": pa.table(line_columns),
        "feedback": pa.table(feedback_columns),
    }


# --- insertion --------------------------------------------------------------------------------

_INSERTS = {
    "customers": """
        INSERT INTO customers
        SELECT printf('demo-%07d', customer_no),
               CASE WHEN typed_upper THEN upper(left(email_norm, 1)) || substr(email_norm, 2)
                    ELSE email_norm END,
               email_norm, $first_names[first_name + 1], $last_names[last_name + 1],
               $phone_prefixes[location + 1] || lpad(CAST(phone_suffix AS VARCHAR), 4, '0'),
               birthday, $genders[gender + 1], $cities[location + 1], $regions[location + 1],
               $countries[location + 1], accepts_marketing,
               list_transform(tags, lambda t: $tags[t + 1]),
               $acquisition_channels[channel + 1], signup_at, $source, NULL
        FROM (
            SELECT *,
                   $email_heads[email_head + 1] || $email_seps[email_sep + 1]
                   || coalesce($email_tails[email_tail + 1], '') || customer_no || '@'
                   || $email_domains[email_domain + 1] AS email_norm
            FROM demo_chunk
        )
    """,
    "orders": """
        INSERT INTO orders
        SELECT $source || ':' || order_no, CAST(order_no AS VARCHAR), $source,
               printf('demo-%07d', customer_no),
               ordered_at, $currencies[currency + 1], subtotal * 0.01, discounts * 0.01,
               shipping * 0.01, tax * 0.01, total * 0.01, refunds * 0.01, net * 0.01,
               $statuses[status + 1], $sales_channels[sales_channel + 1],
               $discount_codes[discount_code + 1], NULL
        FROM demo_chunk
    """,
    "lines": """
        INSERT INTO order_lines
        SELECT $source || ':' || order_no, line_no, $products[product + 1], $skus[product + 1],
               $product_categories[product + 1], quantity, unit_price * 0.01, NULL
        FROM demo_chunk
    """,
    "feedback": """
        INSERT INTO feedback
        SELECT $source || ':' || $feedback_kinds[kind + 1] || '-' || response_no,
               printf('demo-%07d', customer_no),
               answered_at, $feedback_kinds[kind + 1], score, $comments[comment + 1], $source,
               $products[product + 1], $titles[title + 1], NULL
        FROM demo_chunk
    """,
}
# After the last chunk (the customers table then holds the demo customers only).
_KEYS_SQL = """
    INSERT INTO customer_keys
    SELECT 'email', email_norm, customer_id FROM customers
    UNION ALL
    SELECT $source, customer_id, customer_id FROM customers
"""

# Consent per channel, derived from the generated customers without drawing random numbers
# (so every other generated value stays as it was): email as accepts_marketing; SMS for
# subscribers whose number ends in 0-3 (withdrawn for 8-9, else unknown); ads for subscribers
# whose number ends in 0-5. Dated at sign-up, source 'demo'.
_CONSENT_SQL = """
    INSERT INTO consent
    SELECT customer_id, 'email', accepts_marketing, $source, signup_at, NULL FROM customers
    WHERE accepts_marketing IS NOT NULL
    UNION ALL
    SELECT customer_id, 'sms', right(customer_id, 1) <= '3', $source, signup_at, NULL
    FROM customers
    WHERE accepts_marketing AND (right(customer_id, 1) <= '3' OR right(customer_id, 1) >= '8')
    UNION ALL
    SELECT customer_id, 'ads', TRUE, $source, signup_at, NULL FROM customers
    WHERE accepts_marketing AND right(customer_id, 1) <= '5'
"""


def _run(conn: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Run one of the statements above with the lookup lists it names bound as parameters."""
    names = set(re.findall(r"\$(\w+)", sql)) - {"source"}
    params: dict[str, object] = {name: _LOOKUPS[name] for name in names}
    params["source"] = DEMO_SOURCE
    conn.execute(sql, params)


def _insert_chunk(conn: duckdb.DuckDBPyConnection, tables: dict[str, Any]) -> None:
    for name, table in tables.items():
        conn.register("demo_chunk", table)
        try:
            _run(conn, _INSERTS[name])
        finally:
            conn.unregister("demo_chunk")
