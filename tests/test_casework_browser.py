"""The office's two-way pages in a real headless Chromium against a real kycdesk-server on
127.0.0.1: a supervisor creates a case for a tablet with the keyboard (prefilled answer,
due date, the tablet by name) and sees it waiting to be pulled; the tablet pulls it; the
case page of a resubmitted case shows the diff (answers, photos by slot) and the field
history the tablet sent. Every page passes axe-core with no serious violation and no CSP
refusal; a hostile applicant name stays text.

KYCDESK_SCREENSHOTS=docs/screenshots saves the pages (office-assign-new.png,
office-assignments.png, review-history.png) for the docs."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import httpx
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select

from kycdesk.core.protocol import EMPTY_HELD_DIGEST
from tests.browser_support import (
    OfficeServer,
    assert_no_serious_axe_violations,
    browser,
    csp_violations,
    navigating,
    office_server,
    sign_in,
    wait_for,
)
from tests.review_support import FORM, answers, image_entry, jpeg, submit_over_api
from tests.sync_support import TOKEN, tus_upload

__all__ = ["browser", "office_server"]  # fixtures

HOSTILE = "<script>alert(1)</script> Ada"
LAB_DEVICE = f"lab-{hashlib.sha256(TOKEN.encode()).hexdigest()[:16]}"


def shoot(driver: WebDriver, name: str, size: tuple[int, int] = (1280, 900)) -> None:
    folder = os.environ.get("KYCDESK_SCREENSHOTS")
    if folder:
        driver.set_window_size(*size)
        driver.execute_script("window.scrollTo(0, 0)")
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def test_a_supervisor_creates_a_case_for_a_tablet_with_the_keyboard(
        office_server: OfficeServer, browser: WebDriver) -> None:
    sign_in(browser, office_server, office_server.add_account("supervisor"))
    browser.get(office_server.url("/office/assignments/new"))
    wait_for(browser, "#reference")
    assert_no_serious_axe_violations(browser)
    reference = f"KYC-A-{uuid.uuid4().hex[:6]}"
    browser.find_element(By.ID, "reference").send_keys(reference)
    browser.switch_to.active_element.send_keys(Keys.TAB, HOSTILE)  # the applicant
    browser.find_element(By.ID, "address").send_keys("1 Main Street, Leeds")
    Select(browser.find_element(By.ID, "device")).select_by_value(LAB_DEVICE)
    first = browser.find_element(By.CSS_SELECTOR, 'input[name="prefill:applicant.first_name"]')
    first.send_keys("Ada")
    browser.execute_script("document.getElementById('due_date').value = '2026-12-31'")
    shoot(browser, "office-assign-new", (1280, 1000))
    with navigating(browser):
        first.send_keys(Keys.ENTER)  # submits the form, as a keyboard user does
    notice = wait_for(browser, "p.notice")
    assert "tablet gets it at its next sync" in notice.text
    row = next(r for r in browser.find_elements(By.CSS_SELECTOR, "table.queue tbody tr")
               if reference in r.text)
    assert HOSTILE in row.text and "Waiting to be pulled" in row.text
    assert "2026-12-31" in row.text
    assert_no_serious_axe_violations(browser)
    assert csp_violations(browser) == []
    shoot(browser, "office-assignments")
    pulled = httpx.post(f"{office_server.server.base_url}/v1/pull", timeout=10, json={
        "held_digest": EMPTY_HELD_DIGEST, "held_count": 0},
        headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assigned = [c for c in pulled["changes"] if c.get("reference_number") == reference]
    assert assigned[0]["form"] == {"applicant.first_name": "Ada"}
    assert assigned[0]["applicant_name"] == HOSTILE
    actions = office_server.audit_actions()
    assert "case.assigned_to_device" in actions


def test_a_reviewer_may_read_the_assignments_but_not_create_one(
        office_server: OfficeServer, browser: WebDriver) -> None:
    sign_in(browser, office_server, office_server.add_account("reviewer"))
    browser.get(office_server.url("/office/assignments"))
    wait_for(browser, "h1")
    assert browser.find_elements(By.CSS_SELECTOR, 'a[href="/office/assignments/new"]') == []
    browser.get(office_server.url("/office/assignments/new"))
    assert "Not allowed" in wait_for(browser, "h1").text


def test_the_case_page_shows_the_diff_and_the_field_history(
        office_server: OfficeServer, browser: WebDriver) -> None:
    base = office_server.server.base_url
    case_id, front, retake = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    tag = uuid.uuid4().hex[:6]
    submit_over_api(base, case_id, 1, answers("Ada", "Lovelace"),
                    [(front, jpeg(1, (800, 520), "ID FRONT"), "id_front")],
                    reference=f"KYC-H-{tag}")
    picture = jpeg(3, (800, 520), "ID FRONT 2")
    uploaded = tus_upload(base, case_id, retake, picture)
    history = [{"field_key": "applicant.last_name", "old": None, "new": "Lovelace",
                "at": "2026-12-01T10:00:00Z", "by": "Anna Verifier", "why": "typed"},
               {"field_key": "applicant.last_name", "old": "Lovelace", "new": "Byron",
                "at": "2026-12-03T09:30:00Z", "by": "Anna Verifier", "why": "returned",
                "note": "As on the passport"},
               {"field_key": "applicant.first_name", "old": "Ada", "new": "<b>Augusta</b>",
                "at": "2026-12-03T09:31:00Z", "by": "Anna Verifier", "why": "merged"}]
    second = httpx.put(f"{base}/v1/cases/{case_id}/submission", timeout=10, json={
        "revision": 2, "reference_number": f"KYC-H-{tag}", **FORM,
        "form": answers("<b>Augusta</b>", "Byron"),
        "images": [image_entry(retake, uploaded.headers["kycdesk-server-image-id"], picture,
                               "id_front")],
        "client": {"app_version": "t", "device_id": "lab"}, "history": history},
        headers={"Authorization": f"Bearer {TOKEN}"})
    assert second.status_code == 201, second.text
    sign_in(browser, office_server, office_server.add_account("reviewer"))
    browser.get(office_server.url(f"/office/cases/{case_id}"))
    table = wait_for(browser, "table.history")
    rows = [r.text for r in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert len(rows) == 3
    assert "Lovelace" in rows[1] and "Byron" in rows[1] and "changed after a return" in rows[1]
    assert "As on the passport" in rows[1] and "Anna Verifier" in rows[1]
    assert "<b>Augusta</b>" in rows[2]  # shown as written, never markup
    diff = browser.find_element(By.CSS_SELECTOR, "table.diff:not(.history)").text
    assert "Lovelace" in diff and "Byron" in diff
    page = browser.find_element(By.TAG_NAME, "main").text
    assert "Photos added: 1 (" in page and "removed: 1 (" in page
    assert_no_serious_axe_violations(browser)
    assert csp_violations(browser) == []
    browser.execute_script("document.getElementById('field-history-title')"
                           ".scrollIntoView()")
    if os.environ.get("KYCDESK_SCREENSHOTS"):
        browser.set_window_size(1280, 1000)
        browser.execute_script("document.getElementById('history-title').scrollIntoView()")
        browser.save_screenshot(str(Path(os.environ["KYCDESK_SCREENSHOTS"])
                                    / "review-history.png"))
