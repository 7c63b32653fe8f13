"""Loyalty programs: define one (model), check it (validate), replay it on history (simulate),
save versions and keep the member ledger (ledger). The replay engine is in :mod:`.replay`."""

from relmark_core.loyalty.ledger import (
    MemberStatus,
    PostingSummary,
    VersionInfo,
    active_version,
    customer_tiers,
    find_customer,
    get_version,
    list_versions,
    member_status,
    members_csv,
    members_table,
    post_ledger,
    posted_through,
    save_version,
)
from relmark_core.loyalty.model import LoyaltyProgram, parse_program, starter_program
from relmark_core.loyalty.simulate import SimulationResult, compare, simulate
from relmark_core.loyalty.validate import HistoryFacts, Problem, shop_facts, validate

__all__ = [
    "LoyaltyProgram",
    "parse_program",
    "starter_program",
    "Problem",
    "HistoryFacts",
    "shop_facts",
    "validate",
    "SimulationResult",
    "simulate",
    "compare",
    "VersionInfo",
    "PostingSummary",
    "MemberStatus",
    "save_version",
    "list_versions",
    "active_version",
    "posted_through",
    "post_ledger",
    "member_status",
    "customer_tiers",
    "members_table",
    "members_csv",
    "find_customer",
    "get_version",
]
