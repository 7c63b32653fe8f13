"""Sharing in a real browser: the copied link opens the same view in a fresh browser; a locked
link cannot be widened; a saved view opens from the Dashboards page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from playwright.sync_api import Browser, Page

from tests.e2e.conftest import (
    IDLE_TIMEOUT_MS,
    Server,
    metric_values,
    open_app,
    open_url,
    pick_option,
    wait_idle,
)


def _code(page: Page, key: str) -> str:
    """The text of the st.code block inside the container with this key (a link)."""
    return page.locator(f".st-key-{key} code").first.inner_text().strip()


def _fresh(browser: Browser) -> Page:
    pg = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    pg.set_default_timeout(IDLE_TIMEOUT_MS)
    return pg


def _with(url: str, **change: str) -> str:
    parts = urlsplit(url)
    q = {k: v[-1] for k, v in parse_qs(parts.query).items()} | change
    return urlunsplit(parts._replace(query=urlencode(q)))


def _range_box(page: Page) -> str:
    return page.get_by_role("combobox", name="Date range", exact=True).first.input_value()


def _open(page: Page, url: str) -> None:
    """Open a link and wait for its headline numbers."""
    open_url(page, url)
    page.wait_for_selector("[data-testid='stMetricValue']")
    wait_idle(page)


def test_a_copied_link_opens_the_same_view_in_a_fresh_browser(
    page: Page, server: Server, browser: Browser
) -> None:
    open_app(page, server)
    pick_option(page, "Date range", "Last 30 days")
    page.get_by_text("Month", exact=True).click()  # the grain radio
    wait_idle(page)
    shown = metric_values(page)
    link = _code(page, "share_link")
    assert link.startswith(server.url)
    assert "range=last_30_days" in link and "grain=month" in link

    other = _fresh(browser)
    try:
        _open(other, link)
        assert metric_values(other) == shown
        assert "Last 30 days" in _range_box(other)
        assert other.get_by_role("radio", name="Month").is_checked()
    finally:
        other.context.close()


def test_a_locked_link_cannot_be_widened(page: Page, server: Server, browser: Browser) -> None:
    open_app(page, server)
    pick_option(page, "Date range", "Last 7 days")
    locked_numbers = metric_values(page)
    page.get_by_text("Locked link", exact=True).click()
    page.get_by_role("button", name="Copy a locked link").click()
    wait_idle(page)
    locked = _code(page, "share_locked_link")
    assert "lock=v1." in locked

    other = _fresh(browser)
    try:
        # the viewer widens the range in the URL: the lock's range is shown all the same
        _open(other, _with(locked, range="all_time", compare="0"))
        assert metric_values(other) == locked_numbers
        assert "Last 7 days" in _range_box(other)
        assert other.get_by_role("combobox", name="Date range", exact=True).first.is_disabled()
        assert other.get_by_text("This view is locked by its link.").is_visible()
        # another page keeps the lock (the navigation drops the URL's parameters)
        other.get_by_role("link", name="Retention").click()
        other.wait_for_selector("[data-testid='stMain'] h1:has-text('Retention')")
        wait_idle(other)
        assert "lock=v1." in other.url and "range=last_7_days" in other.url
        assert other.get_by_role("combobox", name="Date range", exact=True).first.is_disabled()
        # a changed token shows a plain error and no numbers
        q = parse_qs(urlsplit(locked).query)
        token = q["lock"][0]
        other.goto(_with(locked, lock=token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")))
        other.get_by_text("This link's lock is not valid").wait_for()
        wait_idle(other)
        assert metric_values(other, wait=False) == []
    finally:
        other.context.close()


def test_a_saved_view_opens_from_the_dashboards_page(page: Page, server: Server) -> None:
    open_app(page, server)
    pick_option(page, "Date range", "Last 7 days")
    page.get_by_text("Month", exact=True).click()
    wait_idle(page)
    shown = metric_values(page)
    page.get_by_text("Save this view", exact=True).first.click()  # the expander
    page.get_by_label("View name").fill("Last week by month")
    page.get_by_role("button", name="Save this view").click()
    wait_idle(page)
    assert page.get_by_text("Saved “Last week by month”").is_visible()

    # somewhere else, with other filters, then open the view from Dashboards
    open_app(page, server, "dashboards")
    pick_option(page, "Date range", "Last 365 days")
    page.get_by_role("link", name="Open “Last week by month”").click()
    page.wait_for_selector("[data-testid='stMain'] h1:has-text('Overview')")
    wait_idle(page)
    assert "Last 7 days" in _range_box(page)
    assert page.get_by_role("radio", name="Month").is_checked()
    assert metric_values(page) == shown


def test_the_open_tab_of_a_profile_is_in_the_link(page: Page, server: Server) -> None:
    open_app(page, server, "customers?customer=demo-0000001")
    page.get_by_role("tab", name="Feedback").click()
    wait_idle(page)
    page.wait_for_function("() => window.location.search.includes('profile_tab=feedback')")
    assert "profile_tab=feedback" in _code(page, "share_link")
    page.reload()
    page.wait_for_selector("[data-testid='stMain'] h1")
    wait_idle(page)
    assert page.get_by_role("tab", name="Feedback").get_attribute("aria-selected") == "true"
