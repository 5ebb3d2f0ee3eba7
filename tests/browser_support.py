"""The back office in a real browser: Debian's headless Chromium driven by Selenium (the
driver's path given, so Selenium Manager never downloads anything), a real kycdesk-server
on 127.0.0.1 with accounts made through its CLI, and the checks every page must pass
(axe-core accessibility, no CSP violation in the browser's log).

Use from a test module:

    from tests.browser_support import browser, office_server  # fixtures
    def test_x(office_server, browser):
        account = office_server.add_account("reviewer")
        sign_in(browser, office_server, account)
        assert_no_serious_axe_violations(browser)
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from kycdesk_server.backoffice import totp
from kycdesk_server.backoffice.web import CSRF_HEADER, SESSION_COOKIE, SIGNIN_COOKIE
from tests.sync_support import REPO_ROOT, ServerHandle, start_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE_JS = REPO_ROOT / "tests" / "browser" / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "long enough test passphrase"
_names = itertools.count(1)


@dataclass(frozen=True)
class OfficeAccount:
    username: str
    role: str
    password: str
    totp_secret: bytes | None

    def code(self, at: float | None = None) -> str:
        assert self.totp_secret is not None, f"{self.username} has no TOTP"
        return totp.code_at(self.totp_secret, at)


@dataclass
class OfficeServer:
    server: ServerHandle

    def url(self, path: str) -> str:
        return f"{self.server.base_url}{path}"

    def user_command(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        """`kycdesk-server user …` on this server's data, as an operator runs it."""
        return subprocess.run([sys.executable, "-m", "kycdesk_server", "user", args[0],
                               *self.server.admin_args, *args[1:]], input=stdin,
                              capture_output=True, text=True, cwd=REPO_ROOT,
                              env=self.server.admin_env, timeout=60, check=False)

    def add_account(self, role: str = "reviewer", *, with_totp: bool = True,
                    password: str = PASSWORD) -> OfficeAccount:
        """A new account (a fresh name: a TOTP step is accepted once per account)."""
        username = f"{role}{next(_names)}"
        added = self.user_command("add", username, "--role", role, "--password-stdin",
                                  stdin=password + "\n")
        assert added.returncode == 0, added.stderr
        secret = None
        if with_totp:
            issued = self.user_command("totp", username)
            assert issued.returncode == 0, issued.stderr
            text = issued.stdout.split()[1]
            secret = base64.b32decode(text + "=" * (-len(text) % 8))
        return OfficeAccount(username, role, password, secret)

    def api_headers(self, account: OfficeAccount) -> dict[str, str]:
        """Signed in without a browser (httpx, schemathesis): the session cookie and the
        CSRF header a page's script would send."""
        import re

        import httpx

        with httpx.Client(base_url=self.server.base_url, timeout=30) as client:
            form = client.get("/office/sign-in")
            signin_token = form.cookies[SIGNIN_COOKIE]
            signed_in = client.post("/office/sign-in", headers={
                "Cookie": f"{SIGNIN_COOKIE}={signin_token}"}, data={
                "username": account.username, "password": account.password,
                "code": account.code() if account.totp_secret else "",
                "csrf_token": signin_token})
            assert signed_in.status_code == 303, signed_in.text
            session = signed_in.cookies[SESSION_COOKIE]
            page = client.get("/office/queue", headers={"Cookie": f"{SESSION_COOKIE}={session}"})
            csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
            assert csrf is not None, page.text
        return {"Cookie": f"{SESSION_COOKIE}={session}", CSRF_HEADER: csrf.group(1)}

    def audit_actions(self) -> list[str]:
        return [row[0] for row in self.server.query(
            "SELECT action FROM office_audit ORDER BY id")]


def start_browser(profile: Path) -> WebDriver:
    """Headless Chromium with a fresh profile, quiet (no network but 127.0.0.1)."""
    for needed in (CHROMIUM, CHROMEDRIVER):
        if not needed.exists():
            pytest.fail(f"{needed} is missing: `python3 dev.py test` installs Chromium "
                        "(Debian: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-default-apps", "--disable-extensions",
                 "--window-size=1280,900", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=str(CHROMEDRIVER),
                      log_output=str(profile.parent / "chromedriver.log"))
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(30)
    return driver


def wait_for(driver: WebDriver, css: str, timeout: float = 10) -> Any:
    return WebDriverWait(driver, timeout).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css)))


def fill_sign_in(driver: WebDriver, office: OfficeServer, username: str, password: str,
                 code: str = "") -> None:
    driver.get(office.url("/office/sign-in"))
    for name, value in (("username", username), ("password", password), ("code", code)):
        field = driver.find_element(By.ID, name)
        field.clear()
        field.send_keys(value)
    submit_and_wait_for_new_page(
        driver, driver.find_element(By.CSS_SELECTOR, "button[type=submit].primary"))


@contextlib.contextmanager
def navigating(driver: WebDriver) -> Iterator[None]:
    """Around an action that loads another page (a click, an Enter): the wait ends when
    the new page has loaded, so what the test reads next (the same notice or table, say)
    is never the page before. The old page is marked; the wait ends when a document
    without the mark is complete (errors while the browser is between documents are part
    of the wait)."""
    driver.execute_script("window.kycdeskPageBefore = true")
    yield
    WebDriverWait(driver, 20, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return window.kycdeskPageBefore !== true && "
                                   "document.readyState === 'complete'"))


def submit_and_wait_for_new_page(driver: WebDriver, button: Any) -> None:
    """Click a button that posts a form and wait until the answer's page has loaded."""
    with navigating(driver):
        button.click()


def sign_in(driver: WebDriver, office: OfficeServer, account: OfficeAccount) -> None:
    """Sign in with password and TOTP and wait for the landing page."""
    fill_sign_in(driver, office, account.username, account.password,
                 account.code() if account.totp_secret else "")
    wait_for(driver, ".who")


def csp_violations(driver: WebDriver) -> list[str]:
    """The browser log's Content-Security-Policy refusals since the last call."""
    return [entry["message"] for entry in driver.get_log("browser")
            if "Content Security Policy" in entry["message"]]


def axe_violations(driver: WebDriver, impacts: tuple[str, ...] = ("serious", "critical")
                   ) -> list[dict[str, Any]]:
    """axe-core's violations of the current page with one of these impacts."""
    if not AXE_JS.exists():
        pytest.fail(f"{AXE_JS} is missing: `python3 dev.py test` installs it (or `npm ci` "
                    "in tests/browser)")
    driver.execute_script(AXE_JS.read_text(encoding="utf-8"))
    result: list[dict[str, Any]] = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(r.violations), e => done([{id: 'axe-error', impact: 'critical',"
        " help: String(e), nodes: []}]));")
    return [v for v in result if v.get("impact") in impacts]


def assert_no_serious_axe_violations(driver: WebDriver) -> None:
    """0 serious or critical accessibility violations on the page as it is now."""
    found = axe_violations(driver)
    assert not found, "\n".join(
        f"{v['id']} ({v['impact']}): {v['help']} — "
        f"{[n.get('target') for n in v.get('nodes', [])][:3]}" for v in found)


@pytest.fixture(scope="module")
def office_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfficeServer]:
    """A real kycdesk-server (embedded back end) on 127.0.0.1 for the module. Every test
    signs in from the one address 127.0.0.1: fewer than 20 failed sign-ins per module
    (the per-address limit), or a later test finds the address locked."""
    handle = start_server(tmp_path_factory.mktemp("office") / "data")
    yield OfficeServer(handle)
    handle.stop()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    """A fresh headless Chromium (its own profile: no cookie from another test)."""
    driver = start_browser(tmp_path / "chromium-profile")
    yield driver
    driver.quit()
