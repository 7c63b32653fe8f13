"""Offers: an exclusive offer to a saved segment through a channel, with a random holdout,
launched once, and an honest answer afterwards to "did it work?".

    o = parse_offer({"name": "Winter thanks", "segment_id": 3, "offer_type": "percent_off",
                     "value": 10, "channel": "email", "starts_on": "2024-12-01",
                     "ends_on": "2024-12-14", "message": "Hi {first_name}, 10% off for you"})
    o.sentence("Loyal customers")  # "10% off for Loyal customers by email, 1–14 Dec 2024,
                                   #  10% held out"
    saved = save_offer(conn, o)
    plan_audience(conn, o, as_of=today)         # exclusions, holdout, cost, power hint
    launch_offer(conn, saved.offer_id, as_of=today)   # once; a second call changes nothing
    export_offer(conn, saved.offer_id, "email")       # Klaviyo/Mailchimp-ready CSV
    offer_results(conn, src, saved.offer_id)          # uplift with Newcombe / bootstrap CIs

- :mod:`.model`: the Offer, tokens, codes, holdout assignment, cost and power hint.
- :mod:`.saved`: drafts, audience plan, launch/cancel/re-open, member tokens.
- :mod:`.export`: files per channel. :mod:`.results`: treatment against holdout.
"""

from relmark_core.offers.export import (
    EXPORT_KINDS,
    EXPORT_LABELS,
    ExportKind,
    OfferExport,
    export_offer,
    hash_email,
)
from relmark_core.offers.model import (
    CHANNEL_LABELS,
    CHANNELS,
    CODE_ALPHABET,
    CODE_MODES,
    DEFAULT_FALLBACKS,
    DEFAULT_HOLDOUT_PCT,
    OFFER_TYPE_LABELS,
    OFFER_TYPES,
    TOKENS,
    Offer,
    assign_holdout,
    detectable_uplift,
    expected_cost,
    generate_codes,
    parse_offer,
    redemption_cost,
    render_message,
)
from relmark_core.offers.results import (
    NO_EFFECT_YET,
    OfferResults,
    bootstrap_mean_difference,
    newcombe_interval,
    offer_results,
    wilson_interval,
)
from relmark_core.offers.saved import (
    AudiencePlan,
    LaunchResult,
    SavedOffer,
    cancel_offer,
    frozen_members,
    get_offer,
    launch_offer,
    list_offers,
    member_tokens,
    offer_events,
    offers_table,
    plan_audience,
    preview_choices,
    preview_message,
    reopen_offer,
    save_offer,
    update_offer,
)

__all__ = [
    "EXPORT_KINDS", "EXPORT_LABELS", "ExportKind", "OfferExport", "export_offer", "hash_email",
    "CHANNEL_LABELS", "CHANNELS", "CODE_ALPHABET", "CODE_MODES", "DEFAULT_FALLBACKS",
    "DEFAULT_HOLDOUT_PCT", "OFFER_TYPE_LABELS", "OFFER_TYPES", "TOKENS", "Offer",
    "assign_holdout", "detectable_uplift", "expected_cost", "generate_codes", "parse_offer",
    "redemption_cost", "render_message",
    "NO_EFFECT_YET", "OfferResults", "bootstrap_mean_difference", "newcombe_interval",
    "offer_results", "wilson_interval",
    "AudiencePlan", "LaunchResult", "SavedOffer", "cancel_offer", "frozen_members", "get_offer",
    "launch_offer", "list_offers", "member_tokens", "offer_events", "offers_table", "preview_choices", "plan_audience",
    "preview_message", "reopen_offer", "save_offer", "update_offer",
]
