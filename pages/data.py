"""Data: import exports (upload -> preview -> answer what is unclear -> confirm), the import
history with undo and rejected rows, what the store holds, the demo data switches, and
backup and restore (download one file of everything; upload one -> what it replaces -> restore).

Each uploaded file is previewed before anything is stored. A preview is kept in the session
keyed by the file's hash, the user's answers and the store's data version, so a rerun does not
read the file again and any import, undo or CLI write (which bumps the version) makes it fresh.
The user's answers (day/month order, column mapping, Typeform score column) live in the session
per file hash, apart from the widgets that set them, so they survive reruns in which a widget is
not drawn.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from relmark_core import backup, demo, migrations, store
from relmark_core import imports as im
from relmark_core.auth import Role
from relmark_core.automations import after_import
from relmark_core.errors import InputRefused, RelmarkError
from relmark_core.imports.formats import GENERIC, field_spec
from relmark_core.imports.load import PREVIEW_ROWS
from relmark_ui import current, roles
from relmark_ui.tables import count_column, plain

UPLOAD_TYPES = ["csv", "tsv", "txt", "xlsx"]
NOT_MAPPED = "— not in this file —"
MAPPING_COLUMNS = 4  # select boxes per row in the column-mapping grid
ALWAYS_SHOWN = ("email", "customer_id")  # mapping boxes shown even when nothing matched
HISTORY_ACTION_ROWS = 15  # newest imports that get their own Undo / download row
PROBLEMS_HEIGHT = 250
KEY_CHARS = 16  # characters of the file hash used in widget keys
HASH_STATE = "imp_hashes"  # upload id -> sha256 of its bytes
PREVIEW_STATE = "imp_previews"  # file hash -> (cache key, ImportPreview | refusal sentence)
ANSWER_STATE = "imp_answers"  # file hash -> answers (date_order, kind, mapping, score, ...)
SHAPE_STATE = "imp_shapes"  # file hash -> (format, kind, header) of its last good preview
DONE_STATE = "imp_done"  # file hash -> {"import_id", "message"} once committed
FLASH_STATE = "imp_flash"
AUTOMATIONS_FLASH = "imp_automations"  # (sentence, failed) of the automations after an import
DEMO_KEY = "imp_remove_demo"

KIND_WORDS = {"orders": "orders", "customers": "customers", "feedback": "feedback answers"}
RECORD_WORDS = {"orders": "Orders", "customers": "Customers", "feedback": "Answers"}
ENCODINGS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8 (with BOM)", "utf-16": "UTF-16",
             "cp1252": "Windows-1252", "latin-1": "Latin-1", "xlsx": "Excel workbook"}
FORMAT_LABELS = {f.name: f.label for f in im.FORMATS} | {GENERIC.name: "CSV / spreadsheet"}
DATE_ORDER_WORDS = {"dmy": "Day first (day/month/year)", "mdy": "Month first (month/day/year)"}
SAMPLE_LABELS = {"order_id": "Order", "ordered_at": "Ordered (UTC)", "answered_at": "Answered (UTC)",
                 "customer_id": "Customer id", "person_key": "Person", "total": "Total",
                 "refunds": "Refunds", "net": "Net", "lines": "Lines", "source": "Source",
                 "signup_at": "Signed up (UTC)", "score": "Score", "kind": "Survey"}
MONEY_COLUMNS = ("net",)
# Preview columns a marketer checks first (the store's own ids, like customer_id, come last).
SAMPLE_FIRST = ("order_id", "response_id", "ordered_at", "answered_at", "email", "first_name",
                "last_name", "total", "refunds", "net", "currency", "status", "lines", "kind",
                "score", "comment")
COUNT_HELP = {
    "rows_read": "Data rows in the file (the header, blank lines and totals rows not counted).",
    "to_load": "Records Relmark will store: for an orders file, one per order (a Shopify order "
               "spread over several line-item rows is one order).",
    "new": "Records not in the store yet.",
    "updated": "Records already in the store (same order or answer id, or same customer) that "
               "this file changes. Undoing the import puts the old version back.",
    "unchanged": "Records already in the store exactly as in this file.",
    "new_customers": "People in this file who match no customer in the store, by the source's "
                     "customer id or by email (trimmed, lower-case).",
    "rejected": "Rows that cannot be loaded; each is listed below with its reason and can be "
                "downloaded after the import. The other rows load.",
}
STORE_HELP = {
    "customers": "Every customer in the store, with or without orders.",
    "orders": "Every order in the store, including cancelled and refunded ones.",
    "order_lines": "Products on the stored orders (one line per product per order).",
    "feedback": "NPS and CSAT answers and product reviews in the store.",
}

ctx = current()
st.title("Data")

counts = store.shop_counts(ctx.conn)
cols = st.columns(4)
for col, (label, key) in zip(
    cols, [("Customers", "customers"), ("Orders", "orders"), ("Order lines", "order_lines"),
           ("Feedback answers", "feedback")], strict=True
):
    col.metric(label, f"{counts[key]:,}", help=STORE_HELP[key])
st.caption(
    f"Database: `{ctx.db_path}` · " + ("holds the **demo shop**" if ctx.demo else "holds your data")
)


# --- small helpers -----------------------------------------------------------------------------


def _state(name: str) -> dict[str, Any]:
    value: dict[str, Any] = st.session_state.setdefault(name, {})
    return value


def _clean(text: str) -> str:
    """A sentence from the core or a file, safe for a markdown element (shown literally)."""
    return plain(text)


def _bar(where: Any, text: str) -> tuple[Any, im.Progress]:
    """A progress bar and the ``progress(fraction, message)`` callback that drives it."""
    bar = where.progress(0.0, text=_clean(text))

    def update(fraction: float, message: str) -> None:
        bar.progress(min(max(fraction, 0.0), 1.0), text=_clean(message))

    return bar, update


def _size(n: int) -> str:
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def _date_choice(order: str, example: str | None) -> str:
    """ "Day first — 03/04/2024 is 3 April 2024" (the words alone when the example won't parse)."""
    words = DATE_ORDER_WORDS[order]
    m = re.match(r"\s*(\d{1,2})\D(\d{1,2})\D(\d{2,4})", example or "")
    if not m:
        return words
    a, b, y = m.groups()
    year = int(y) + (2000 if len(y) == 2 else 0)
    day, month = (int(a), int(b)) if order == "dmy" else (int(b), int(a))
    try:
        meaning = date(year, month, day).strftime("%-d %B %Y")
    except ValueError:
        return f"{words} — impossible for {example}"
    return f"{words} — {m.group(0).strip()} is {meaning}"


def _file_hash(f: Any) -> str:
    hashes = _state(HASH_STATE)
    if f.file_id not in hashes:
        hashes[f.file_id] = hashlib.sha256(f.getvalue()).hexdigest()
    return str(hashes[f.file_id])


def _requested(answers: dict[str, Any]) -> dict[str, Any]:
    """The preview() arguments the answers give."""
    mapping = answers.get("mapping")
    if answers.get("score"):
        mapping = {**(mapping or {}), "score": answers["score"]}
    return {"kind": answers.get("kind"), "mapping": mapping, "date_order": answers.get("date_order")}


def _preview(h: str, upload: Any, keep_demo: bool, where: Any) -> im.ImportPreview | str:
    """The file's preview (from the session when nothing changed), or the sentence refusing it."""
    answers = _state(ANSWER_STATE).setdefault(h, {})
    req = _requested(answers)
    key = json.dumps([ctx.version, keep_demo, req], sort_keys=True, default=str)
    cache = _state(PREVIEW_STATE)
    hit = cache.get(h)
    if hit is not None and hit[0] == key:
        return hit[1]  # type: ignore[no-any-return]
    bar, update = _bar(where, f"Reading {upload.name}…")
    result: im.ImportPreview | str
    try:
        result = im.preview(ctx.conn, upload.getvalue(), file_name=upload.name, keep_demo=keep_demo,
                            progress=update, **req)
        _state(SHAPE_STATE)[h] = (result.format, result.kind, result.header)
    except InputRefused as exc:
        result = str(exc)
    except RelmarkError as exc:  # e.g. the database busy: worth trying again, so not kept
        bar.empty()
        return str(exc)
    bar.empty()
    cache[h] = (key, result)
    return result


def _set_answer(h: str, name: str, widget_key: str) -> None:
    answers = _state(ANSWER_STATE).setdefault(h, {})
    answers[name] = st.session_state[widget_key]


def _set_kind(h: str, widget_key: str) -> None:
    answers = _state(ANSWER_STATE).setdefault(h, {})
    answers["kind"] = st.session_state[widget_key]
    answers.pop("mapping", None)  # a new kind: start from the proposal for it


def _set_mapping(h: str, kind: str, widget_keys: dict[str, str]) -> None:
    answers = _state(ANSWER_STATE).setdefault(h, {})
    answers["kind"] = kind
    answers["mapping"] = {
        field: st.session_state[wk] for field, wk in widget_keys.items()
        if st.session_state.get(wk, NOT_MAPPED) != NOT_MAPPED
    }


# --- the answers a file may need ------------------------------------------------------------


def _date_order_widget(h: str, k: str, question: im.Question | None) -> None:
    answers = _state(ANSWER_STATE)[h]
    if question is not None:
        answers["date_example"] = question.example
        st.warning(_clean(question.text.split(" Say which")[0]), icon=":material/help:")
    if question is None and "date_order" not in answers:
        return
    wk = f"{k}_date_order"
    if wk not in st.session_state and answers.get("date_order"):
        st.session_state[wk] = answers["date_order"]
    example = answers.get("date_example")
    st.radio(
        "How does this file write its dates?", ["dmy", "mdy"], index=None, key=wk,
        format_func=lambda o: _clean(_date_choice(o, example)), on_change=_set_answer,
        args=(h, "date_order", wk),
        help="Relmark never guesses: dates like 03/04/2024 mean different days in different "
        "countries. Look at a date you know in the file.",
    )


def _score_widget(h: str, k: str, question: im.Question | None) -> None:
    answers = _state(ANSWER_STATE)[h]
    if question is not None:
        answers["score_options"] = list(question.options)
        st.warning("Several answers in this survey look like scores. Which one is the NPS or "
                   "CSAT score?", icon=":material/help:")
    options = answers.get("score_options")
    if not options or (question is None and "score" not in answers):
        return
    wk = f"{k}_score"
    if wk not in st.session_state and answers.get("score"):
        st.session_state[wk] = answers["score"]
    st.radio("The score question", options, index=None, key=wk, on_change=_set_answer,
             args=(h, "score", wk), format_func=_clean)  # radio labels are markdown


def _mapping_widgets(h: str, k: str, kind: str, header: tuple[str, ...],
                     proposed: dict[str, str], question: im.Question | None) -> None:
    """A select box per Relmark field, proposing the matched column (generic files)."""
    answers = _state(ANSWER_STATE)[h]
    st.markdown("**Which column holds what**")
    kinds = list(im.KINDS)
    kk = f"{k}_kind"
    if kk not in st.session_state:
        st.session_state[kk] = answers.get("kind") or kind
    st.radio("This file holds", kinds, key=kk, horizontal=True,
             format_func=lambda x: KIND_WORDS[x].capitalize(), on_change=_set_kind, args=(h, kk))
    if question is not None:
        missing = [getattr(field_spec(kind, f), "label", f) for f in question.fields]  # type: ignore[arg-type]
        st.warning(
            _clean(f"Relmark could not tell which column holds the {', '.join(missing).lower()}. "
                   "Choose it below."),
            icon=":material/help:",
        )
    chosen = answers.get("mapping") if answers.get("kind") in (None, kind) else None
    current_map = chosen if chosen is not None else proposed
    # Fields the first proposal found (plus the required ones and who the customer is) come
    # first; the rest wait in an expander. The split is kept per kind so boxes don't move.
    first = answers.setdefault("first_fields", {}).setdefault(
        kind, sorted(set(current_map) | set(ALWAYS_SHOWN)))
    specs = im.FIELDS[kind]  # type: ignore[index]
    widget_keys = {s.key: f"{k}_map_{kind}_{s.key}" for s in specs}
    options = [NOT_MAPPED, *header]
    main = [s for s in specs if s.required or s.key in first]
    rest = [s for s in specs if s not in main]

    def boxes(fields: list[Any]) -> None:
        for start in range(0, len(fields), MAPPING_COLUMNS):
            row = st.columns(MAPPING_COLUMNS)
            for col, spec in zip(row, fields[start:start + MAPPING_COLUMNS], strict=False):
                wk = widget_keys[spec.key]
                if wk not in st.session_state:
                    value = current_map.get(spec.key, NOT_MAPPED)
                    st.session_state[wk] = value if value in options else NOT_MAPPED
                name, _, detail = spec.label.partition(" (")
                col.selectbox(
                    name + (" (required)" if spec.required else ""), options, key=wk,
                    help=f"{name} ({detail}" if detail else None,
                    on_change=_set_mapping, args=(h, kind, widget_keys),
                )

    boxes(main)
    if rest:
        with st.expander(f"More fields this file might hold ({len(rest)})"):
            boxes(rest)
    used = {st.session_state[wk] for wk in widget_keys.values()}
    unused = [c for c in header if c not in used]
    if unused:
        st.caption(_clean("Columns not imported: " + ", ".join(unused) + "."))
    st.caption("Relmark remembers this mapping for files with the same columns.")


# --- one uploaded file ----------------------------------------------------------------------


def _counts(pv: im.ImportPreview) -> None:
    kind = pv.kind or "orders"
    items = [("Rows read", pv.rows_read, "rows_read"),
             (f"{RECORD_WORDS[kind]} to load", pv.rows_to_load, "to_load"),
             ("New", pv.new_records, "new"), ("Updated", pv.updated_records, "updated"),
             ("Unchanged", pv.unchanged_records, "unchanged")]
    if kind != "customers":
        items.append(("New customers", pv.new_customers, "new_customers"))
    items.append(("Rows rejected", pv.rows_rejected, "rejected"))
    for col, (label, value, key) in zip(st.columns(len(items)), items, strict=True):
        col.metric(label, f"{value:,}", help=COUNT_HELP[key])


def _sample_config(df: pd.DataFrame, kind: str) -> dict[str, Any]:
    """Column labels for the preview's rows (money with two decimals; currencies vary)."""
    specs = {s.key: s for s in im.FIELDS[kind]}  # type: ignore[index]
    config: dict[str, Any] = {}
    for c in df.columns:
        spec = specs.get(c)
        label = SAMPLE_LABELS.get(c) or (spec.label if spec else c)
        if c in MONEY_COLUMNS or (spec is not None and spec.type == "money"):
            config[c] = st.column_config.NumberColumn(label, format="%,.2f")
        else:
            config[c] = st.column_config.Column(label)
    return config


def _describe(pv: im.ImportPreview) -> str:
    kind = KIND_WORDS.get(pv.kind or "", "records")
    parts = [f"**{pv.format_label}** — {kind}", ENCODINGS.get(pv.encoding, pv.encoding)]
    if pv.encoding != "xlsx":
        parts.append(f"{pv.delimiter}-separated")
    parts.append(_size(pv.size_bytes))
    return " · ".join(parts)


def _file_section(upload: Any, h: str, keep_demo: bool, ready: dict[str, im.ImportPreview]) -> None:
    k = f"imp_{h[:KEY_CHARS]}"
    st.markdown(f"#### :material/description: {_clean(upload.name)}")
    done = _state(DONE_STATE).get(h)
    if done is not None:
        st.success(_clean(done["message"]), icon=":material/check_circle:")
        st.page_link("pages/overview.py", label="See the numbers on Overview",
                     icon=":material/dashboard:")
        st.caption("If your export covers older dates, choose *All time* in the sidebar's Date "
                   "range, or set the *As of* date to the end of the export.")
        return
    pv = _preview(h, upload, keep_demo, st)
    if isinstance(pv, str):
        st.error(_clean(pv), icon=":material/block:")
        shape = _state(SHAPE_STATE).get(h)
        if shape is not None and shape[0] == GENERIC.name and shape[1] is not None:
            answers = _state(ANSWER_STATE)[h]
            _mapping_widgets(h, k, answers.get("kind") or shape[1], shape[2],
                             answers.get("mapping") or {}, None)
        st.caption("Nothing was stored. Fix the file (or the choices above) and try again.")
        return
    st.markdown(_describe(pv))
    questions = {q.key: q for q in pv.questions}
    _date_order_widget(h, k, questions.get("date_order"))
    if pv.format == "typeform":
        _score_widget(h, k, questions.get("score_column"))
    if pv.format == GENERIC.name and pv.kind is not None:
        proposed = dict(pv.mapping.fields) if pv.mapping else {}
        _mapping_widgets(h, k, pv.kind, pv.header, proposed, questions.get("mapping"))
    if pv.already_imported is not None:
        st.info(f"This file was already imported (import #{pv.already_imported}, see the history "
                "below); importing it again changes nothing.", icon=":material/info:")
        return
    if not pv.ready:
        st.caption("The first rows as read from the file (answer the question above to see what "
                   "will be stored):")
        st.dataframe(pv.sample, hide_index=True)
        return
    _counts(pv)
    for note in pv.notes:
        st.caption(_clean(note))
    st.caption(f"The first {min(len(pv.sample), PREVIEW_ROWS)} "
               f"{KIND_WORDS[pv.kind or 'orders']} as they will be stored:")
    first = [c for c in SAMPLE_FIRST if c in pv.sample.columns]
    st.dataframe(pv.sample, hide_index=True,
                 column_order=first + [c for c in pv.sample.columns if c not in first],
                 column_config=_sample_config(pv.sample, pv.kind or "orders"))
    if pv.rows_rejected:
        st.warning(
            f"{pv.rows_rejected:,} row{'s' if pv.rows_rejected != 1 else ''} will be rejected; "
            "the other rows load. Every problem:", icon=":material/warning:")
        problems = pv.problems.rename(columns={"row": "Row", "column": "Column",
                                               "reason": "Reason", "value": "Value"})
        st.dataframe(problems, hide_index=True, height=min(PROBLEMS_HEIGHT, 38 + 35 * len(problems)),
                     column_config={"Row": count_column("Row", width="small")})
    ready[h] = pv
    if st.button("Import this file", key=f"{k}_go", type="primary",
                 icon=":material/download_done:"):
        if _commit(h, pv, keep_demo, st):
            st.rerun()


def _commit(h: str, pv: im.ImportPreview, keep_demo: bool, where: Any) -> bool:
    """Store one previewed file (one transaction); False with the reason shown when refused."""
    bar, update = _bar(where, f"Importing {pv.file_name}…")
    try:
        result = im.commit(ctx.conn, pv, keep_demo=keep_demo, progress=update, actor=ctx.actor)
    except RelmarkError as exc:
        bar.empty()
        where.error(_clean(str(exc)), icon=":material/block:")
        return False
    _state(DONE_STATE)[h] = {"import_id": result.import_id, "message": result.message}
    _state(PREVIEW_STATE).pop(h, None)
    if not result.already_imported:  # the automations re-evaluate; a failure keeps the import
        auto = after_import(ctx.conn, actor=ctx.actor)
        if auto.sentence():
            st.session_state[AUTOMATIONS_FLASH] = (auto.sentence(), auto.error is not None)
    return True


# --- import -------------------------------------------------------------------------------------

st.subheader("Import your exports")
limit_mb = int(st.get_option("server.maxUploadSize"))
st.write(
    "Shopify (orders, customers), WooCommerce orders, Stripe payments, Square transactions, "
    "Klaviyo profiles, Typeform and Delighted survey exports are recognised by their columns. "
    "Any other table (CSV, TSV or Excel) goes through a column mapping. You see what will be "
    "stored before anything is."
)
can_import = roles.may(Role.EDITOR)
uploads = st.file_uploader(
    f"Exports to import — CSV, TSV, TXT or Excel (.xlsx), up to {limit_mb:,} MB per file",
    type=UPLOAD_TYPES, accept_multiple_files=True, key="imp_upload",
    help=f"Files larger than {limit_mb:,} MB are refused by the upload itself "
    "(server.maxUploadSize in .streamlit/config.toml).", disabled=not can_import,
) or []
if not can_import:
    roles.read_only_note("import")
history = im.import_history(ctx.conn)
loaded_ids = set(history.loc[history["status"] == "loaded", "import_id"].astype(int))
done_state = _state(DONE_STATE)
for h_done in [h for h, d in done_state.items() if d["import_id"] not in loaded_ids]:
    del done_state[h_done]  # undone since (here or from the command line): preview it afresh

keep_demo = False
if uploads and ctx.demo:
    remove = st.checkbox(
        "Remove the demo data first", value=True, key=DEMO_KEY,
        help="The demo shop's customers, orders and answers are deleted in the same transaction "
        "as the import. Imports can still be undone; the demo shop comes back with *Reset to demo "
        "data* below.",
    )
    st.caption("The store holds the invented demo shop. Removing it keeps real and invented "
               "numbers from being mixed; keep it only to try an import out.")
    keep_demo = not remove

seen: dict[str, str] = {}
ready: dict[str, im.ImportPreview] = {}
for upload in uploads:
    h = _file_hash(upload)
    with st.container(border=True):
        if h in seen:
            st.caption(_clean(f"{upload.name}: the same content as {seen[h]}, shown above."))
            continue
        seen[h] = upload.name
        _file_section(upload, h, keep_demo, ready)
for name in (PREVIEW_STATE, SHAPE_STATE, ANSWER_STATE, DONE_STATE):
    stale = _state(name)
    for h_old in [h for h in stale if h not in seen]:
        del stale[h_old]  # files no longer in the uploader

if len(ready) > 1 and st.button(f"Import all {len(ready)} files", key="imp_go_all",
                                icon=":material/download_done:"):
    imported = 0
    for h, pv in ready.items():
        if not _commit(h, pv, keep_demo, st):
            break
        imported += 1
    if imported:
        st.rerun()

# --- history ------------------------------------------------------------------------------------

st.subheader("Import history")
if flash := st.session_state.pop(FLASH_STATE, None):
    st.success(_clean(flash), icon=":material/check_circle:")
if auto_flash := st.session_state.pop(AUTOMATIONS_FLASH, None):
    (st.warning if auto_flash[1] else st.info)(_clean(auto_flash[0]), icon=":material/bolt:")
if history.empty:
    st.caption("No imports yet.")
else:
    table = pd.DataFrame({
        "#": history["import_id"].astype(int),
        "When (UTC)": history["created_at"],
        "File": history["file_name"],
        "Format": history["format"].map(lambda f: FORMAT_LABELS.get(f, f)),
        "Holds": history["kind"].map(lambda x: KIND_WORDS.get(x, x)),
        "Rows read": history["rows_read"].astype(int),
        "Loaded": history["rows_loaded"].astype(int),
        "Rejected": history["rows_rejected"].astype(int),
        "By": history["created_by"],
        "Status": [
            "Loaded" if s == "loaded" else f"Undone {pd.Timestamp(t):%Y-%m-%d %H:%M} by {b}"
            if pd.notna(t) else "Undone"
            for s, t, b in zip(history["status"], history["undone_at"], history["undone_by"],
                               strict=True)
        ],
    })
    st.dataframe(
        table, hide_index=True,
        column_config={
            "#": st.column_config.NumberColumn("#", format="%d", width="small"),
            "When (UTC)": st.column_config.DatetimeColumn("When (UTC)", format="YYYY-MM-DD HH:mm"),
            "Rows read": count_column("Rows read", help=COUNT_HELP["rows_read"]),
            "Loaded": count_column("Loaded", help="Records stored (orders, for an orders file)."),
            "Rejected": count_column("Rejected", help=COUNT_HELP["rejected"]),
        },
    )
    with_actions = history[(history["status"] == "loaded") | (history["rows_rejected"] > 0)]
    for row in with_actions.head(HISTORY_ACTION_ROWS).itertuples(index=False):
        iid = int(row.import_id)
        c1, c2, c3 = st.columns([6, 2, 3], vertical_alignment="center")
        c1.markdown(
            f"**#{iid}** {_clean(row.file_name)} · {FORMAT_LABELS.get(row.format, row.format)} · "
            f"{pd.Timestamp(row.created_at):%Y-%m-%d %H:%M} UTC"
            + ("" if row.status == "loaded" else " · undone")
        )
        if row.status == "loaded" and can_import:
            with c2.popover("Undo", icon=":material/undo:", key=f"imp_undo_pop_{iid}"):
                st.write(
                    f"This removes what import #{iid} added and puts back the records it changed. "
                    "Demo data it removed does not come back."
                )
                if st.button(f"Yes, undo import #{iid}", key=f"imp_undo_{iid}", type="primary"):
                    try:
                        im.undo_import(ctx.conn, iid, actor=ctx.actor)
                    except RelmarkError as exc:
                        st.error(_clean(str(exc)), icon=":material/block:")
                    else:
                        st.session_state[FLASH_STATE] = (
                            f"Import #{iid} ({row.file_name}) was undone.")
                        st.rerun()
        if int(row.rows_rejected):
            c3.download_button(
                f"Rejected rows ({int(row.rows_rejected):,})",
                data=im.rejected_rows_csv(ctx.conn, iid),
                file_name=f"rejected-rows-import-{iid}.csv", mime="text/csv",
                key=f"imp_rejected_{iid}", icon=":material/download:", on_click="ignore",
            )
    if len(with_actions) > HISTORY_ACTION_ROWS:
        st.caption(f"Undo and downloads are offered for the {HISTORY_ACTION_ROWS} newest imports; "
                   "undo newer ones first to reach older ones.")

# --- demo data ----------------------------------------------------------------------------------

st.subheader("Demo data")
st.write(
    "The demo shop is invented data for looking around. *Reset to demo data* replaces everything "
    "in the store with it; *Start empty* removes all customers, orders and feedback. Saved "
    "definitions and the audit log are kept."
)
c1, c2 = st.columns(2)
is_admin = roles.may(Role.ADMIN)
if not is_admin:
    roles.read_only_note("reset or empty the store", needs=Role.ADMIN)
with c1, st.popover("Reset to demo data", icon=":material/restart_alt:", disabled=not is_admin):
    st.write("This replaces **all** customers, orders and feedback with the demo shop.")
    if is_admin and st.button("Yes, reset to demo data", key="data_reset_demo", type="primary"):
        bar = st.progress(0.0, text="Building the demo shop…")
        demo.load_demo(ctx.conn, actor=ctx.actor,
                       progress=lambda f, m: bar.progress(min(max(f, 0.0), 1.0), text=m))
        st.session_state["data_flash"] = "The demo shop was loaded."
        st.rerun()
with c2, st.popover("Start empty", icon=":material/delete_sweep:", disabled=not is_admin):
    st.write("This removes **all** customers, orders and feedback. It cannot be undone.")
    if is_admin and st.button("Yes, start empty", key="data_start_empty", type="primary"):
        demo.clear_shop_data(ctx.conn, actor=ctx.actor)
        st.session_state["data_flash"] = "The store is now empty. Import your exports to begin."
        st.rerun()
if msg := st.session_state.pop("data_flash", None):
    st.success(msg)


# --- backup and restore -------------------------------------------------------------------------

BACKUP_STATE = "bk_ready"  # {"version", "name", "data", "summary"} of the last prepared backup
RESTORE_CHECK_STATE = "bk_checked"  # (upload id, data version) -> confirmation sentence or refusal
RESTORE_FLASH = "bk_flash"
UPLOAD_ROUND = "bk_upload_round"  # bumped after a restore, so the uploader starts empty

st.subheader("Backup and restore")
st.write(
    "A backup is one file with everything Relmark holds: customers, orders, feedback, saved "
    "definitions, loyalty and offer history, settings, consent, the suppression list, erasure "
    "records and the audit log (accounts are not included). It holds personal data: keep it "
    "somewhere safe. Relmark also saves a copy next to its database by itself before an upgrade "
    "and before a restore."
)
if upgraded := store.get_meta(ctx.conn, migrations.LAST_UPGRADE_KEY):
    st.info(_clean(upgraded), icon=":material/upgrade:")
if flash := st.session_state.pop(RESTORE_FLASH, None):
    st.success(_clean(flash), icon=":material/check_circle:")
may_back_up = roles.may(Role.ADMIN)
if not may_back_up:
    roles.read_only_note("make or restore backups", needs=Role.ADMIN)
b1, b2 = st.columns(2)
with b1:
    st.markdown("**Download a backup**")
    if st.button("Prepare a backup", key="bk_prepare", icon=":material/archive:",
                 disabled=not may_back_up):
        bar, update = _bar(st, "Preparing the backup…")
        name = backup.backup_file_name()
        with tempfile.TemporaryDirectory(prefix="relmark-download-") as tmp:
            out = Path(tmp) / name
            try:
                made = backup.create_backup(ctx.conn, out, actor=ctx.actor, progress=update)
            except RelmarkError as exc:
                st.error(_clean(str(exc)), icon=":material/block:")
            else:
                st.session_state[BACKUP_STATE] = {
                    "version": ctx.version, "name": name, "data": out.read_bytes(),
                    "summary": f"{made.rows('customers'):,} customers, "
                               f"{made.rows('orders'):,} orders, {len(made.tables)} tables",
                }
        bar.empty()
    prepared = st.session_state.get(BACKUP_STATE)
    if prepared and prepared["version"] == ctx.version:
        st.download_button(
            f"Download {prepared['name']} ({_size(len(prepared['data']))})",
            data=prepared["data"], file_name=prepared["name"], mime="application/zip",
            key="bk_download", icon=":material/download:", on_click="ignore", type="primary",
        )
        st.caption(_clean(f"Holds {prepared['summary']}."))
with b2:
    st.markdown("**Restore a backup**")
    round_no = int(st.session_state.get(UPLOAD_ROUND, 0))
    restore_file = st.file_uploader(
        "Backup file to restore (.zip made by Relmark)", type=["zip"],
        key=f"bk_upload_{round_no}", disabled=not may_back_up,
        help="Relmark checks the whole file first and says what it will replace; nothing "
        "changes until you confirm.",
    )
    if restore_file is not None:
        checked = _state(RESTORE_CHECK_STATE)
        check_key = f"{restore_file.file_id}:{ctx.version}"
        if check_key not in checked:
            try:
                checked.clear()
                checked[check_key] = (True, backup.describe_backup(
                    ctx.conn, restore_file.getvalue(), file_name=restore_file.name))
            except RelmarkError as exc:
                checked[check_key] = (False, str(exc))
        ok, sentence = checked[check_key]
        if not ok:
            st.error(_clean(sentence), icon=":material/block:")
        else:
            st.warning(_clean(sentence), icon=":material/warning:")
            if st.button("Restore this backup", key="bk_restore", type="primary",
                         icon=":material/settings_backup_restore:"):
                bar, update = _bar(st, "Restoring…")
                try:
                    restored = backup.restore_backup(
                        ctx.conn, restore_file.getvalue(), file_name=restore_file.name,
                        actor=ctx.actor, progress=update)
                except RelmarkError as exc:
                    bar.empty()
                    st.error(_clean(str(exc)), icon=":material/block:")
                else:
                    st.session_state[RESTORE_FLASH] = restored.sentence
                    st.session_state[UPLOAD_ROUND] = round_no + 1
                    checked.clear()
                    st.rerun()
