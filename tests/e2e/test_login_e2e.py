"""Team mode in a real browser: create the first admin, a reload keeps the sign-in, sign out, a
wrong password is refused with a plain message, the right one signs in; and the company sign-in
(Streamlit's st.login) against a local OIDC provider (oidc-provider-mock) started by the test.

This module runs its own server: the app needs a secrets file with an ``[auth]`` section that
points at the test's provider (the shared fixture's server reads the project's secrets).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from oidc_provider_mock import run_server_in_thread
from playwright.sync_api import Browser, Page, expect

from relmark_core import accounts, store
from relmark_core.auth import Role
from relmark_ui.login import SESSION_COOKIE
from tests.e2e.conftest import (
    IDLE_TIMEOUT_MS,
    ROOT,
    SERVER_START_TIMEOUT_S,
    Server,
    _free_port,
    wait_idle,
)

PW = "correct horse battery"
SIGN_IN_TITLE = "Sign in to Relmark"


@pytest.fixture(scope="module")
def oidc_port() -> Iterator[int]:
    with run_server_in_thread() as provider:
        yield int(provider.server_port)


@pytest.fixture(scope="module")
def server(
    demo_db_template: Path, tmp_path_factory: pytest.TempPathFactory, oidc_port: int
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("login_server")
    db = tmp / "relmark.duckdb"
    shutil.copy(demo_db_template, db)
    port = _free_port()
    url = f"http://localhost:{port}"
    secrets_file = tmp / "secrets.toml"
    secrets_file.write_text(
        "[auth]\n"
        f'redirect_uri = "{url}/oauth2callback"\n'
        f'cookie_secret = "{secrets.token_urlsafe(32)}"\n'
        'client_id = "relmark-test"\n'
        'client_secret = "not-a-secret"\n'
        f'server_metadata_url = "http://localhost:{oidc_port}/.well-known/openid-configuration"\n'
    )
    log = tmp / "streamlit.log"
    env = {**os.environ, "RELMARK_DB": str(db)}
    with log.open("wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "localhost",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
             "--secrets.files", str(secrets_file)],
            cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"streamlit did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.3)
    yield Server(url=url, db=db, proc=proc, log=log)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(IDLE_TIMEOUT_MS)
    yield pg
    context.close()


def goto(pg: Page, url: str) -> None:
    pg.goto(url)
    pg.wait_for_selector("[data-testid='stMain'] h1", timeout=IDLE_TIMEOUT_MS)
    wait_idle(pg)


def title(pg: Page) -> str:
    return pg.locator("[data-testid='stMain'] h1").first.inner_text()


def expect_title(pg: Page, text: str) -> None:
    """The page's title becomes ``text`` (waits: a rerun may still be drawing)."""
    expect(pg.locator("[data-testid='stMain'] h1").first).to_have_text(text)


def sidebar_text(pg: Page) -> str:
    return pg.locator("[data-testid='stSidebar']").inner_text()


def fill(pg: Page, label: str, value: str) -> None:
    pg.get_by_label(label, exact=True).fill(value)


def sign_in(pg: Page, name: str, password: str) -> None:
    fill(pg, "User name", name)
    fill(pg, "Password", password)
    pg.get_by_role("button", name="Sign in", exact=True).click()
    wait_idle(pg)


def test_first_admin_sign_out_wrong_password_sign_in(page: Page, server: Server) -> None:
    goto(page, f"{server.url}/team")
    expect_title(page, "Team")
    fill(page, "User name", "boss")
    fill(page, "Password", PW)
    fill(page, "Password again", PW)
    page.get_by_role("button", name="Create the first admin").click()
    wait_idle(page)
    expect(page.get_by_text("Team mode is on: you are signed in as boss")).to_be_visible()
    assert "Signed in as boss (admin)" in sidebar_text(page)

    # a reload (new Streamlit session) stays signed in through the session cookie (set by a
    # script the page runs once it has drawn: wait for it, as a person would by clicking on)
    page.wait_for_function(f"() => document.cookie.includes('{SESSION_COOKIE}=')",
                           timeout=IDLE_TIMEOUT_MS)
    page.reload()
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=IDLE_TIMEOUT_MS)
    wait_idle(page)
    expect_title(page, "Team")
    assert "Signed in as boss (admin)" in sidebar_text(page)

    page.get_by_role("button", name="Sign out").click()
    wait_idle(page)
    expect_title(page, SIGN_IN_TITLE)
    assert "Signed in as" not in sidebar_text(page)

    sign_in(page, "boss", "not the password")
    expect(page.get_by_text(accounts.WRONG_SIGN_IN)).to_be_visible()
    expect_title(page, SIGN_IN_TITLE)

    sign_in(page, "boss", PW)
    expect_title(page, "Team")
    assert "Signed in as boss (admin)" in sidebar_text(page)

    # after signing out, a reload does not sign in again (the old cookie's session ended)
    page.get_by_role("button", name="Sign out").click()
    wait_idle(page)
    page.reload()
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=IDLE_TIMEOUT_MS)
    wait_idle(page)
    expect_title(page, SIGN_IN_TITLE)


def oidc_sign_in(pg: Page, server: Server, email: str) -> None:
    goto(pg, f"{server.url}/")
    assert title(pg) == SIGN_IN_TITLE
    pg.get_by_role("button", name="Sign in with your company account").click()
    pg.wait_for_selector("input[name='sub']", timeout=IDLE_TIMEOUT_MS)
    pg.fill("input[name='sub']", email)
    pg.get_by_role("button", name="Authorize").click()
    pg.wait_for_url(f"{server.url}/**", timeout=IDLE_TIMEOUT_MS)
    pg.wait_for_selector("[data-testid='stMain'] h1", timeout=IDLE_TIMEOUT_MS)
    wait_idle(pg)


def test_company_sign_in_maps_by_email(page: Page, server: Server) -> None:
    with store.open_db(server.db) as conn:
        if accounts.get_user(conn, "boss") is None:  # when this test runs alone
            accounts.create_first_admin(conn, "boss", PW)
        accounts.add_user(
            conn, "vi", role=Role.VIEWER, email="Vi@Shop.example", actor="boss"
        )
    oidc_sign_in(page, server, "vi@shop.example")
    assert title(page) != SIGN_IN_TITLE
    assert "Signed in as vi (viewer)" in sidebar_text(page)
    # a reload keeps the company sign-in (Streamlit's own cookie)
    goto(page, f"{server.url}/team")
    assert "Signed in as vi (viewer)" in sidebar_text(page)
    # signing out goes through Streamlit's sign-out route (then the provider's end-session page)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"end_session"), timeout=IDLE_TIMEOUT_MS)
    goto(page, f"{server.url}/")
    expect_title(page, SIGN_IN_TITLE)


def test_company_sign_in_unknown_email(page: Page, server: Server) -> None:
    with store.open_db(server.db) as conn:
        if accounts.get_user(conn, "boss") is None:
            accounts.create_first_admin(conn, "boss", PW)
    oidc_sign_in(page, server, "stranger@elsewhere.example")
    expect_title(page, SIGN_IN_TITLE)
    expect(page.get_by_text("it is not a Relmark user yet")).to_be_visible()
    assert "Signed in as" not in sidebar_text(page)
