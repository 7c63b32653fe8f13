"""Sharing in the app: the link of the current view, locked links, and saved views.

:func:`sharing` wraps every page (see :mod:`relmark_ui.frame`). Before the page it opens a saved
view (``?saved=<id>``) and applies a locked link (``?lock=<token>``): the lock's values replace
whatever the URL says, the locked widgets are disabled (the URL-backed widgets in
:mod:`relmark_ui.widgets` ask :func:`fixed`), and the lock stays for the session, on every page.
After the page, the sidebar's *Share* panel shows the link of what is on screen, makes a locked
link, and saves the view.

The signing and the saved views live in :mod:`relmark_core.sharing`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import streamlit as st
from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

from relmark_core.auth import Role
from relmark_core.errors import RelmarkError
from relmark_core.reports import today_utc
from relmark_core.segments import list_segments
from relmark_core.sharing.links import FILTER_PARAMS, LOCK_PARAM, LockedView, sign_lock, verify_lock
from relmark_core.sharing.views import (
    SAVED_VIEW_PARAM,
    SavedView,
    describe_params,
    get_view,
    save_view,
)
from relmark_ui import roles
from relmark_ui.context import Filters, RerunContext
from relmark_ui.tables import plain

__all__ = [
    "sharing",
    "fixed",
    "reseeding",
    "current_page",
    "page_titles",
    "app_root",
    "page_url",
    "saved_view_url",
    "open_view",
    "filter_params",
    "NO_SAVE_PAGES",
]

_LOCK_TOKEN = "_share_lock_token"  # the session's verified lock token (kept across pages)
_LOCK = "_share_lock"  # (page, LockedView) for this run
_RESEED_NEXT = "_share_reseed_next"  # the next run opens a saved view: widgets re-read the URL
_RESEED = "_share_reseed"
_LOCKED_LINK = "_share_locked_link"  # (view signature, url) of the last locked link made
NO_SAVE_PAGES = frozenset({"dashboards"})  # pages not worth saving as a view


# --- where we are -----------------------------------------------------------------------------


def _pages() -> dict[str, dict[str, Any]]:
    """The app's pages by name (file name without .py): title, url path, script path."""
    run = get_script_run_ctx()
    if run is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for info in run.pages_manager.get_pages().values():
        script = str(info.get("script_path") or "")
        if script:
            out[Path(script).stem] = dict(info)
    return out


def current_page() -> str:
    """The running page's name, e.g. ``"retention"`` ("" outside a page)."""
    run = get_script_run_ctx()
    if run is None:
        return ""
    pm = run.pages_manager
    info: dict[str, Any] = dict(pm.get_pages().get(pm.current_page_script_hash) or {})
    script = str(info.get("script_path") or "")
    return Path(script).stem if script else ""


def page_titles() -> dict[str, str]:
    """Page name -> the title in the navigation."""
    return {name: str(info.get("page_name") or name) for name, info in _pages().items()}


def app_root() -> str:
    """The app's address without page or query (empty when the browser did not say, as in
    AppTest: links are then relative)."""
    url = st.context.url or ""
    info = _pages().get(current_page(), {})
    path = str(info.get("url_pathname") or "")
    url = url.removesuffix("/")
    if path and url.endswith("/" + path):
        url = url.removesuffix("/" + path)
    return url


def page_url(page: str, params: Mapping[str, str]) -> str:
    """The full link of ``page`` with ``params``."""
    path = str(_pages().get(page, {}).get("url_pathname") or "")
    query = urlencode(dict(params))
    return f"{app_root()}/{path}" + (f"?{query}" if query else "")


def saved_view_url(view_id: int) -> str:
    """The stable link of a saved view (it opens the view's page with its settings)."""
    return f"{app_root()}/?{urlencode({SAVED_VIEW_PARAM: str(view_id)})}"


# --- what the URL-backed widgets ask ------------------------------------------------------------


def fixed(param: str) -> tuple[bool, str | None]:
    """(whether a locked link decides ``param`` on this page, the value it gives — None means
    the widget's default)."""
    held = st.session_state.get(_LOCK)
    if held is None:
        return False, None
    page, lock = held
    if not lock.fixes(page, param):
        return False, None
    return True, lock.value(page, param)


def reseeding() -> bool:
    """True on the run that opens a saved view: URL-backed widgets take the URL's value (or
    their default) whatever this session chose before."""
    return bool(st.session_state.get(_RESEED))


def filter_params(f: Filters) -> dict[str, str]:
    """The sidebar's filters as explicit URL values (the as-of date pinned)."""
    out = {"range": f.preset, "as_of": f.as_of.isoformat(), "compare": "1" if f.compare else "0",
           "segment": str(f.segment.segment_id) if f.segment is not None else "0"}
    if f.preset == "custom":
        out |= {"start": f.rng.start.isoformat(), "end": f.rng.end.isoformat()}
    return out


# --- before the page ----------------------------------------------------------------------------


def open_view(view: SavedView) -> None:
    """Switch to a saved view's page with its settings (ends this run)."""
    if view.page not in _pages():
        st.warning(f"The saved view “{plain(view.name)}” is of a page this Relmark does not have "
                   f"({view.page}).")
        return
    st.session_state[_RESEED_NEXT] = True
    st.switch_page(f"pages/{view.page}.py", query_params=dict(view.params))


def _open_saved(ctx: RerunContext) -> None:
    raw = st.query_params.get(SAVED_VIEW_PARAM)
    if raw is None:
        return
    del st.query_params[SAVED_VIEW_PARAM]
    try:
        if not raw.isdigit():
            raise RelmarkError(f"“{raw[:20]}” in this link is not the number of a saved view.")
        view = get_view(ctx.conn, int(raw))
    except RelmarkError as exc:
        st.warning(str(exc), icon=":material/link_off:")
        return
    open_view(view)


def _apply_lock(ctx: RerunContext, page: str) -> None:
    st.session_state.pop(_LOCK, None)
    token = st.query_params.get(LOCK_PARAM) or st.session_state.get(_LOCK_TOKEN)
    if not token:
        return
    try:
        lock = verify_lock(ctx.conn, token)
    except RelmarkError as exc:
        st.session_state.pop(_LOCK_TOKEN, None)
        st.error(str(exc), icon=":material/lock:")
        st.stop()
    st.session_state[_LOCK_TOKEN] = token
    st.session_state[_LOCK] = (page, lock)
    wanted = lock.params_for(page)
    if page == lock.page:  # every choice of the locked page is the lock's (absent: default)
        keep = {LOCK_PARAM, SAVED_VIEW_PARAM}
        for k in [k for k in st.query_params if k not in wanted and k not in keep]:
            del st.query_params[k]
    for k, v in wanted.items():
        if st.query_params.get(k) != v:
            st.query_params[k] = v
    if st.query_params.get(LOCK_PARAM) != token:
        st.query_params[LOCK_PARAM] = token
    names = {s.segment_id: s.name for s in list_segments(ctx.conn)}
    seg = lock.filters.get("segment", "0")
    if seg != "0" and not (seg.isdigit() and int(seg) in names):
        # showing all customers instead would widen the view the link was locked to
        st.error(f"The segment this locked link shows (id {seg[:20]}) no longer exists, so it "
                 "shows nothing. Ask whoever sent it for a new link.", icon=":material/lock:")
        st.stop()
    what = describe_params(lock.filters, segment_names=names).rstrip(".")
    scope = " and this page's choices are" if page == lock.page else " are"
    st.info(f"**This view is locked by its link.** {what}. The sidebar's filters{scope} fixed; "
            "you can open other pages with the same filters.", icon=":material/lock:")


@contextmanager
def sharing(ctx: RerunContext) -> Iterator[None]:
    """Around a page: open ``?saved=`` links and apply a locked link first; draw the sidebar's
    Share panel after the page (so the link holds every choice the page made)."""
    page = current_page()
    st.session_state[_RESEED] = st.session_state.pop(_RESEED_NEXT, False)
    _apply_lock(ctx, page)  # first: a link with both keeps its lock on the view's page
    _open_saved(ctx)
    yield
    if ctx.filters is not None:
        _panel(ctx, page, ctx.filters)


# --- after the page: the Share panel ------------------------------------------------------------


def _current_params() -> dict[str, str]:
    return {k: v for k, v in st.query_params.to_dict().items() if k != SAVED_VIEW_PARAM}


def _locked_link(ctx: RerunContext, page: str, f: Filters, params: dict[str, str]) -> str:
    choices = {k: v for k, v in params.items() if k not in FILTER_PARAMS and k != LOCK_PARAM}
    lock = LockedView(page=page, filters=filter_params(f), choices=choices, made_on=today_utc())
    token = sign_lock(ctx.conn, lock, actor=ctx.actor)
    return page_url(page, lock.params_for(page) | {LOCK_PARAM: token})


def _panel(ctx: RerunContext, page: str, f: Filters) -> None:
    sb = st.sidebar
    sb.markdown("### Share")
    params = _current_params()
    link_params = params if "as_of" in params else params | {"as_of": f.as_of.isoformat()}
    sb.caption(f"Link to this view (the as-of date fixed at {f.as_of.day} {f.as_of:%b %Y}); "
               "copy it with the button at its right:")
    with sb.container(key="share_link"):
        # a lock's token is long: scroll it rather than wrap it over the sidebar
        st.code(page_url(page, link_params), language=None, wrap_lines=LOCK_PARAM not in params)
    signature = (page, tuple(sorted(params.items())), tuple(sorted(filter_params(f).items())))
    with sb.expander("Locked link", icon=":material/lock:"):
        st.caption("Whoever opens a locked link sees this view and cannot widen it: the date "
                   "range, as-of date, comparison, segment and this page's choices stay fixed.")
        if st.button("Copy a locked link", key="share_make_lock", icon=":material/lock:"):
            try:
                url = _locked_link(ctx, page, f, params)
            except RelmarkError as exc:
                st.error(str(exc))
            else:
                st.session_state[_LOCKED_LINK] = (signature, url)
        made = st.session_state.get(_LOCKED_LINK)
        if made is not None and made[0] == signature:
            with st.container(key="share_locked_link"):
                st.code(made[1], language=None)
    if page in NO_SAVE_PAGES:
        return
    with sb.expander("Save this view", icon=":material/bookmark_add:"):
        if not roles.may(Role.EDITOR):
            roles.read_only_note("save views")
            return
        with st.form("share_save_form", border=False):
            name = st.text_input("View name", key="share_view_name", max_chars=80,
                                 placeholder="e.g. Weekly revenue")
            submitted = st.form_submit_button("Save this view", icon=":material/save:",
                                                  key="share_save")
        if submitted:
            try:
                view = save_view(ctx.conn, name, page, params, actor=ctx.actor)
            except RelmarkError as exc:
                st.error(str(exc))
            else:
                st.success(f"Saved “{plain(view.name)}”: it is listed on the Dashboards page. Its link:")
                st.code(saved_view_url(view.view_id), language=None, wrap_lines=True)
