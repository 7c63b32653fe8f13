"""Lifecycle automations: recurring offers that run themselves when the data says so.

    a = parse_automation({"name": "Win-back", "trigger": {"kind": "rfm_group", "group": "At risk"},
                          "offer": {"offer_type": "percent_off", "value": 15},
                          "cooldown_days": 90})
    a.sentence()  # "Everyone who moves into At risk gets Win-back: 15% off by email, at most
                  #  once every 90 days, 10% held out."
    saved = save_automation(conn, a)          # "from now on": today's qualified set recorded
    run_automations(conn)                     # after every import and from the CLI
    run_log(conn); upcoming_by_day(conn, src, start=today); message_balance(conn, since=...)

- :mod:`.model`: the Automation, its triggers and its offer. :mod:`.triggers`: who qualifies.
- :mod:`.run`: saving, pausing, runs, the frequency cap, the log. :mod:`.batches`: batch files.
- :mod:`.calendar`: what goes out next, and automated vs hand-made messages per customer.
- :mod:`.command`: ``python -m relmark_core automations run|list``.
"""

from relmark_core.automations.calendar import (
    BALANCE_COLUMNS,
    DAY_COLUMNS,
    DEFAULT_BALANCE_DAYS,
    DEFAULT_HORIZON_DAYS,
    UPCOMING_COLUMNS,
    message_balance,
    unscheduled,
    upcoming_by_day,
    upcoming_sends,
)
from relmark_core.automations.model import (
    DEFAULT_COOLDOWN_DAYS,
    DEFAULT_VALID_DAYS,
    START_POLICIES,
    START_POLICY_LABELS,
    TRIGGER_KINDS,
    TRIGGER_LABELS,
    Automation,
    AutomationOffer,
    parse_automation,
)
from relmark_core.automations.run import (
    DEFAULT_CAP_DAYS,
    DEFAULT_CAP_MESSAGES,
    RUN_LOG_COLUMNS,
    TABLE_COLUMNS,
    AfterImport,
    FrequencyCap,
    RunCounts,
    SavedAutomation,
    after_import,
    automations_table,
    batch_bytes,
    batch_entries,
    batch_folder,
    batch_path,
    frequency_cap,
    get_automation,
    list_automations,
    preview_automation,
    run_automations,
    run_log,
    save_automation,
    set_frequency_cap,
    set_status,
    update_automation,
)
from relmark_core.automations.triggers import qualifying

__all__ = [
    "BALANCE_COLUMNS", "DAY_COLUMNS", "DEFAULT_BALANCE_DAYS", "DEFAULT_HORIZON_DAYS",
    "UPCOMING_COLUMNS", "message_balance", "unscheduled", "upcoming_by_day", "upcoming_sends",
    "DEFAULT_COOLDOWN_DAYS", "DEFAULT_VALID_DAYS", "START_POLICIES", "START_POLICY_LABELS",
    "TRIGGER_KINDS", "TRIGGER_LABELS", "Automation", "AutomationOffer", "parse_automation",
    "DEFAULT_CAP_DAYS", "DEFAULT_CAP_MESSAGES", "RUN_LOG_COLUMNS", "AfterImport", "FrequencyCap",
    "RunCounts", "SavedAutomation", "TABLE_COLUMNS", "after_import", "automations_table",
    "batch_bytes", "batch_entries", "batch_folder", "batch_path",
    "frequency_cap", "get_automation", "list_automations", "preview_automation",
    "run_automations", "run_log", "save_automation", "set_frequency_cap", "set_status",
    "update_automation", "qualifying",
]
