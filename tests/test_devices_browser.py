"""The office's tablets page in a real headless Chromium against a real kycdesk-server
on 127.0.0.1: a supervisor shows an unlock code (it checks on the tablet's side with the
office secret the enrolment gave) and revokes a whole tablet after ticking the
confirmation (every verifier of it is then answered `device-revoked` with a proof that
checks); a reviewer sees the tablets but no act; the server refuses a revoke without the
confirmation even when a page's checkbox is bypassed. Every page passes axe-core with no
serious violation and no CSP refusal; each act is an audit row.

KYCDESK_SCREENSHOTS=docs/screenshots saves office-tablets.png and office-unlock-code.png."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select

from kycdesk.core import office_codes
from kycdesk.core.protocol import EMPTY_HELD_DIGEST
from tests.browser_support import (
    OfficeServer,
    assert_no_serious_axe_violations,
    browser,
    csp_violations,
    office_server,
    sign_in,
    submit_and_wait_for_new_page,
    wait_for,
)
from tests.sync_support import REPO_ROOT

__all__ = ["browser", "office_server"]  # fixtures


def shoot(driver: WebDriver, name: str, size: tuple[int, int] = (1280, 800)) -> None:
    folder = os.environ.get("KYCDESK_SCREENSHOTS")
    if folder:
        driver.set_window_size(*size)
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def _enrol(office: OfficeServer, tablet_id: str, verifier: str) -> dict[str, Any]:
    server = office.server
    code = subprocess.run([sys.executable, "-m", "kycdesk_server", "enrol-code",
                           *server.admin_args], capture_output=True, text=True,
                          cwd=REPO_ROOT, env=server.admin_env, timeout=60, check=True
                          ).stdout.strip()
    reply = httpx.post(f"{server.base_url}/v1/enrolments", timeout=10, json={
        "code": code, "device_name": "Kiosk 4", "tablet_id": tablet_id,
        "verifier_name": verifier})
    assert reply.status_code == 201, reply.text
    enrolled: dict[str, Any] = reply.json()
    return enrolled


def _row(driver: WebDriver, device_id: str) -> Any:
    return next(r for r in driver.find_elements(By.CSS_SELECTOR, "table.queue tbody tr")
                if device_id in r.text)


def test_a_supervisor_shows_an_unlock_code_then_revokes_a_whole_tablet(
        office_server: OfficeServer, browser: WebDriver) -> None:
    tablet = str(uuid.uuid4())
    ama = _enrol(office_server, tablet, "Ama <b>Mensah</b>")
    kofi = _enrol(office_server, tablet, "Kofi Boateng")
    sign_in(browser, office_server, office_server.add_account("supervisor"))
    browser.get(office_server.url("/office/devices"))
    wait_for(browser, "h1")
    row = _row(browser, ama["device_id"])
    assert "Ama <b>Mensah</b>" in row.text  # a hostile name stays text
    assert_no_serious_axe_violations(browser)
    assert csp_violations(browser) == []
    shoot(browser, "office-tablets")

    Select(row.find_element(By.NAME, "purpose")).select_by_value("pin-release")
    submit_and_wait_for_new_page(
        browser, row.find_element(By.XPATH, ".//button[text()='Unlock code']"))
    code = wait_for(browser, ".unlock-code output").text
    secret = base64.b64decode(ama["office_secret"])
    today = office_codes.utc_today()
    assert office_codes.verify_code(secret, "pin-release", ama["device_id"], code, today)
    assert not office_codes.verify_code(secret, "lease", ama["device_id"], code, today)
    assert_no_serious_axe_violations(browser)
    shoot(browser, "office-unlock-code")

    browser.get(office_server.url("/office/devices"))
    row = _row(browser, kofi["device_id"])
    row.find_element(By.CSS_SELECTOR, "details summary").click()
    row.find_element(By.NAME, "confirm").click()
    row.find_element(By.NAME, "whole_tablet").click()
    submit_and_wait_for_new_page(browser, row.find_element(By.CSS_SELECTOR,
                                                           "button.danger"))
    assert "erases what it holds" in wait_for(browser, "p.notice").text
    assert "revoked" in _row(browser, ama["device_id"]).text
    for enrolled in (ama, kofi):
        refused = httpx.post(f"{office_server.server.base_url}/v1/pull", timeout=10,
                             json={"held_digest": EMPTY_HELD_DIGEST, "held_count": 0},
                             headers={"Authorization": f"Bearer {enrolled['credential']}"})
        assert refused.status_code == 403 and refused.json()["scope"] == "tablet"
        assert office_codes.verify_revocation(base64.b64decode(enrolled["office_secret"]),
                                              enrolled["device_id"],
                                              refused.json()["proof"], whole_tablet=True)
    actions = office_server.audit_actions()
    assert "device.code_shown" in actions and "tablet.revoked" in actions
    assert_no_serious_axe_violations(browser)


def test_a_reviewer_sees_the_tablets_but_no_act_and_the_server_wants_the_confirmation(
        office_server: OfficeServer, browser: WebDriver) -> None:
    enrolled = _enrol(office_server, str(uuid.uuid4()), "Esi Owusu")
    sign_in(browser, office_server, office_server.add_account("reviewer"))
    browser.get(office_server.url("/office/devices"))
    row = _row(browser, enrolled["device_id"])
    assert row.find_elements(By.CSS_SELECTOR, "form") == []
    supervisor = office_server.api_headers(office_server.add_account("supervisor"))
    base = office_server.server.base_url
    unconfirmed = httpx.post(f"{base}/office/devices/{enrolled['device_id']}/revoke",
                             headers=supervisor, data={}, timeout=10)
    assert unconfirmed.status_code == 409 and "nothing was revoked" in unconfirmed.text
    reviewer = office_server.api_headers(office_server.add_account("reviewer"))
    refused = httpx.post(f"{base}/office/devices/{enrolled['device_id']}/revoke",
                         headers=reviewer, data={"confirm": "yes"}, timeout=10)
    assert refused.status_code == 403
    assert httpx.get(f"{base}/v1/lease", timeout=10, headers={
        "Authorization": f"Bearer {enrolled['credential']}"}).status_code == 200
