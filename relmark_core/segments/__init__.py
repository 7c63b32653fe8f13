"""Segments: groups of customers a marketer defines without SQL, saved, watched and exported.

    d = parse_definition({"conditions": [
        {"kind": "location", "values": ["DE"]},
        {"kind": "bought", "values": ["Coffee"], "within_days": 90},
        {"kind": "nps", "groups": ["promoter"]},
    ]})
    d.sentence()            # "Customers in Germany who bought Coffee in the last 90 days and
                            #  are promoters"
    segment_summary(src, definition=d, as_of=date(2024, 6, 30))   # count, revenue, share
    seg = save_segment(conn, "German coffee fans", d)               # stable id, unique name

- :mod:`.model`: the definition (pydantic) and its sentence; validation messages.
- :mod:`.compile`: the Ibis filter over the customers table; live numbers, sample, size over
  time; :class:`SegmentFilter` (a saved segment applied as a filter on any page).
- :mod:`.saved`: saving, renaming, duplicating, deleting (the ``segments`` table).
- :mod:`.flow`: moves between RFM groups from one day to another.
- :mod:`.export`: Klaviyo/Mailchimp-ready CSV and xlsx.
"""

from relmark_core.segments.compile import (
    MEMBERSHIP_OVER_TIME,
    SAMPLE_COLUMNS,
    SAMPLE_SIZE,
    SIZE_COLUMNS,
    SegmentFilter,
    SegmentSummary,
    member_ids,
    members,
    segment_filter,
    segment_sample,
    segment_summary,
    size_over_time,
)
from relmark_core.segments.export import (
    DEFAULT_PROPERTIES,
    EXPORT_FORMATS,
    EXPORT_PROPERTIES,
    SegmentExport,
    export_members,
    parse_properties,
)
from relmark_core.segments.flow import (
    FLOW_COLUMNS,
    FLOW_MEMBER_COLUMNS,
    NO_ORDERS_YET,
    default_flow_dates,
    flow_members,
    flow_sentence,
    group_order,
    rfm_flow,
)
from relmark_core.segments.model import (
    AGE_BANDS,
    CONDITION_KINDS,
    CONDITION_LABELS,
    ConditionGroup,
    SegmentDefinition,
    condition_problem,
    definition_from_json,
    parse_condition,
    parse_definition,
)
from relmark_core.segments.saved import (
    SavedSegment,
    clean_name,
    delete_segment,
    duplicate_segment,
    find_segment,
    get_segment,
    list_segments,
    rename_segment,
    save_segment,
    update_segment,
)

__all__ = [
    "AGE_BANDS",
    "CONDITION_KINDS",
    "CONDITION_LABELS",
    "ConditionGroup",
    "SegmentDefinition",
    "condition_problem",
    "definition_from_json",
    "parse_condition",
    "parse_definition",
    "MEMBERSHIP_OVER_TIME",
    "SAMPLE_COLUMNS",
    "SAMPLE_SIZE",
    "SIZE_COLUMNS",
    "SegmentFilter",
    "SegmentSummary",
    "member_ids",
    "members",
    "segment_filter",
    "segment_sample",
    "segment_summary",
    "size_over_time",
    "DEFAULT_PROPERTIES",
    "EXPORT_FORMATS",
    "EXPORT_PROPERTIES",
    "SegmentExport",
    "export_members",
    "parse_properties",
    "FLOW_COLUMNS",
    "FLOW_MEMBER_COLUMNS",
    "NO_ORDERS_YET",
    "default_flow_dates",
    "flow_members",
    "flow_sentence",
    "group_order",
    "rfm_flow",
    "SavedSegment",
    "clean_name",
    "delete_segment",
    "duplicate_segment",
    "find_segment",
    "get_segment",
    "list_segments",
    "rename_segment",
    "save_segment",
    "update_segment",
]
