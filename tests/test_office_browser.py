"""The back office's sign-in, sessions and web security in a real headless Chromium
against a real kycdesk-server on 127.0.0.1 (tests/browser_support.py)."""

from __future__ import annotations

import httpx
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.wait import WebDriverWait

from kycdesk_server.backoffice import totp
from kycdesk_server.backoffice.pages import WRONG
from kycdesk_server.backoffice.web import CONTENT_SECURITY_POLICY, SESSION_COOKIE
from tests.browser_support import (
    OfficeServer,
    assert_no_serious_axe_violations,
    browser,
    csp_violations,
    fill_sign_in,
    navigating,
    office_server,
    sign_in,
    wait_for,
)

__all__ = ["browser", "office_server"]  # fixtures


def _error_text(driver: WebDriver) -> str:
    return str(wait_for(driver, "p.error").text)


def test_sign_in_with_password_and_totp_sets_a_locked_down_cookie(
        office_server: OfficeServer, browser: WebDriver) -> None:
    account = office_server.add_account("reviewer")
    browser.get(office_server.url("/office/sign-in"))
    assert_no_serious_axe_violations(browser)
    sign_in(browser, office_server, account)
    assert browser.current_url.endswith("/office/queue")
    assert account.username in browser.find_element(By.CSS_SELECTOR, ".who").text
    [cookie] = [c for c in browser.get_cookies() if c["name"] == SESSION_COOKIE]
    assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"], cookie["path"]) == \
        (True, True, "Strict", "/")
    assert SESSION_COOKIE not in browser.execute_script("return document.cookie")
    assert_no_serious_axe_violations(browser)
    assert csp_violations(browser) == []
    assert office_server.audit_actions()[-1] == "signin.ok"
    # The enrolment page does not offer to replace (so switch off) a proven factor.
    browser.get(office_server.url("/office/totp"))
    assert wait_for(browser, "h1").text == "Two-step sign-in is set up"
    assert browser.find_elements(By.ID, "totp-secret") == []


def test_a_wrong_password_or_code_gets_one_message_and_keeps_the_name(
        office_server: OfficeServer, browser: WebDriver) -> None:
    account = office_server.add_account("reviewer")
    fill_sign_in(browser, office_server, account.username, "not the password at all",
                 account.code())
    assert _error_text(browser) == WRONG
    assert browser.find_element(By.ID, "username").get_attribute("value") == \
        account.username
    assert browser.find_element(By.ID, "password").get_attribute("value") == ""
    assert_no_serious_axe_violations(browser)  # the page with its error, too
    fill_sign_in(browser, office_server, account.username, account.password, "000000")
    assert _error_text(browser) == WRONG
    fill_sign_in(browser, office_server, "no-such-user", account.password, "")
    assert _error_text(browser) == WRONG  # unknown names: the very same message
    fill_sign_in(browser, office_server, "x" * 300, "y" * 3000, "")
    assert _error_text(browser) == WRONG  # over-long: the same page, not a JSON error
    assert office_server.audit_actions()[-4:] == ["signin.failed"] * 4


def test_repeated_failures_lock_the_account_with_a_clear_message(
        office_server: OfficeServer, browser: WebDriver) -> None:
    account = office_server.add_account("reviewer")
    for _ in range(5):
        fill_sign_in(browser, office_server, account.username, "wrong password guess")
        assert _error_text(browser) == WRONG
    # Now even the right password and code are refused, saying why and for how long.
    fill_sign_in(browser, office_server, account.username, account.password, account.code())
    assert "Too many failed sign-ins" in _error_text(browser)
    assert "Try again in 1 minute" in _error_text(browser)
    assert "signin.lockout" in office_server.audit_actions()


def test_keyboard_only_sign_in(office_server: OfficeServer, browser: WebDriver) -> None:
    account = office_server.add_account("reviewer")
    browser.get(office_server.url("/office/sign-in"))
    # autofocus: the name field takes the keys straight away (the browser applies it when
    # it next renders, which may be after the load event).
    WebDriverWait(browser, 10).until(
        lambda driver: driver.switch_to.active_element.get_attribute("id") == "username")
    browser.switch_to.active_element.send_keys(account.username, Keys.TAB)
    browser.switch_to.active_element.send_keys(account.password, Keys.TAB)
    assert browser.switch_to.active_element.get_attribute("id") == "code"
    browser.switch_to.active_element.send_keys(account.code(), Keys.ENTER)
    wait_for(browser, ".who")
    # Signing out by keyboard: Tab reaches the button, Enter presses it.
    for _ in range(6):
        browser.switch_to.active_element.send_keys(Keys.TAB)
        if browser.switch_to.active_element.text == "Sign out":
            break
    with navigating(browser):
        browser.switch_to.active_element.send_keys(Keys.ENTER)
    assert wait_for(browser, "p.notice").text == "You are signed out."


def test_sign_out_kills_the_session_on_the_server(office_server: OfficeServer,
                                                  browser: WebDriver) -> None:
    account = office_server.add_account("supervisor")
    sign_in(browser, office_server, account)
    token = browser.get_cookie(SESSION_COOKIE)["value"]  # type: ignore[index]
    me = office_server.url("/api/office/me")
    assert httpx.get(me, headers={"Cookie": f"{SESSION_COOKIE}={token}"}).status_code == 200
    with navigating(browser):
        browser.find_element(By.CSS_SELECTOR, "form.sign-out button").click()
    assert wait_for(browser, "p.notice").text == "You are signed out."
    assert browser.get_cookie(SESSION_COOKIE) is None
    # The old token is dead on the server, not only forgotten by this browser.
    assert httpx.get(me, headers={"Cookie": f"{SESSION_COOKIE}={token}"}).status_code == 401
    browser.get(office_server.url("/office/queue"))
    wait_for(browser, "#sign-in-title")
    assert browser.current_url.endswith("/office/sign-in")
    assert office_server.audit_actions()[-1] == "signout"


def test_a_state_changing_request_without_the_csrf_token_is_refused(
        office_server: OfficeServer, browser: WebDriver) -> None:
    account = office_server.add_account("reviewer")
    sign_in(browser, office_server, account)
    post = ("const done = arguments[arguments.length - 1];"
            "const send = arguments[0] ? kycdeskOffice.fetch : fetch;"
            "send('/office/sign-out', {method: 'POST', redirect: 'manual'})"
            ".then(r => done(r.status), e => done(String(e)));")
    assert browser.execute_async_script(post, False) == 403  # the session's cookie alone
    token = browser.get_cookie(SESSION_COOKIE)["value"]  # type: ignore[index]
    csrf = browser.execute_script("return kycdeskOffice.csrfToken()")
    cookie = {"Cookie": f"{SESSION_COOKIE}={token}", "X-CSRF-Token": csrf}
    url = office_server.url("/office/sign-out")
    # The right token from another site (a stolen token replayed by a page elsewhere).
    for foreign in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": "null", "Sec-Fetch-Site": "cross-site"}):
        assert httpx.post(url, headers={**cookie, **foreign}).status_code == 403
    assert httpx.post(url, headers={**cookie, "X-CSRF-Token": "forged"}).status_code == 403
    # Still signed in after all of that; the page's own script (token in the header) works.
    assert httpx.get(office_server.url("/api/office/me"),
                     headers={"Cookie": f"{SESSION_COOKIE}={token}"}).status_code == 200
    assert browser.execute_async_script(post, True) == 0  # opaque redirect: accepted
    assert httpx.get(office_server.url("/api/office/me"),
                     headers={"Cookie": f"{SESSION_COOKIE}={token}"}).status_code == 401


def test_an_admin_enrols_totp_at_first_sign_in(office_server: OfficeServer,
                                               browser: WebDriver) -> None:
    admin = office_server.add_account("admin", with_totp=False)
    fill_sign_in(browser, office_server, admin.username, admin.password)
    secret_text = wait_for(browser, "#totp-secret").text
    assert browser.find_element(By.ID, "totp-uri").text.startswith("otpauth://totp/")
    assert browser.find_element(By.CSS_SELECTOR, ".qr svg").is_displayed()
    assert browser.find_elements(By.CSS_SELECTOR, ".who") == []  # not signed in yet…
    assert browser.find_element(By.CSS_SELECTOR, "form.sign-out").is_displayed()  # …may leave
    assert_no_serious_axe_violations(browser)
    # Nothing else opens before the code is proven.
    browser.get(office_server.url("/office/queue"))
    secret_text = wait_for(browser, "#totp-secret").text  # a new secret on each showing
    browser.find_element(By.ID, "code").send_keys("123456", Keys.ENTER)
    assert "does not match" in _error_text(browser)
    browser.get(office_server.url("/office/totp"))
    secret_text = wait_for(browser, "#totp-secret").text
    import base64

    secret = base64.b32decode(secret_text + "=" * (-len(secret_text) % 8))
    browser.find_element(By.ID, "code").send_keys(totp.code_at(secret), Keys.ENTER)
    wait_for(browser, ".who")
    assert browser.current_url.endswith("/office/queue")
    assert "account.totp_confirmed" in office_server.audit_actions()
    assert csp_violations(browser) == []


def test_the_csp_check_sees_a_violation(office_server: OfficeServer,
                                        browser: WebDriver) -> None:
    """The guard behind `csp_violations(...) == []` in the other tests can fail: an inline
    script (what an injected applicant name would be) is refused and logged."""
    browser.get(office_server.url("/office/sign-in"))
    assert csp_violations(browser) == []
    browser.execute_script("const s = document.createElement('script');"
                           "s.textContent = 'window.ran = true'; document.body.append(s);")
    assert browser.execute_script("return window.ran === true") is False
    # The console message arrives on its own time: wait for it (the log drains as read).
    seen: list[str] = []

    def reported(driver: WebDriver) -> bool:
        seen.extend(csp_violations(driver))
        return bool(seen)

    WebDriverWait(browser, 10).until(reported)
    assert any("script-src" in message for message in seen)


def test_every_back_office_response_carries_the_security_headers(
        office_server: OfficeServer) -> None:
    responses = {path: httpx.get(office_server.url(path))
                 for path in ("/office/sign-in", "/office/queue", "/api/office/me",
                              "/office/static/office.css")}
    for path, response in responses.items():
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] == "no-referrer", path
    for page in ("/office/sign-in", "/office/queue", "/api/office/me"):
        assert responses[page].headers["cache-control"] == "no-store", page
    assert responses["/office/queue"].status_code == 303  # to sign-in, no page
    assert responses["/api/office/me"].status_code == 401
    assert responses["/api/office/me"].headers["content-type"] == "application/problem+json"
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY


def test_signing_in_again_rotates_the_session(office_server: OfficeServer,
                                              browser: WebDriver) -> None:
    account = office_server.add_account("reviewer", with_totp=False)
    sign_in(browser, office_server, account)
    first = browser.get_cookie(SESSION_COOKIE)["value"]  # type: ignore[index]
    sign_in(browser, office_server, account)  # the browser still sends the first token
    second = browser.get_cookie(SESSION_COOKIE)["value"]  # type: ignore[index]
    assert first != second
    me = office_server.url("/api/office/me")
    assert httpx.get(me, headers={"Cookie": f"{SESSION_COOKIE}={first}"}).status_code == 401
    assert httpx.get(me, headers={"Cookie": f"{SESSION_COOKIE}={second}"}).status_code == 200
