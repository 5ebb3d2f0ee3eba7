"""The reviewer's journey in a real headless Chromium against a real kycdesk-server on
127.0.0.1, with cases sent through the server's own API (tus uploads of real JPEGs, then
submissions): sign in with TOTP, find a case by search, zoom and rotate a photo, return
it with two field comments, approve another, sign out — with the mouse, and again with
the keyboard alone. Both pages pass axe-core with no serious violation; hostile names
stay text."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

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
from tests.review_support import answers, jpeg, submit_over_api

__all__ = ["browser", "office_server"]  # fixtures

HOSTILE = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')


def seed_case(office: OfficeServer, first: str, last: str, reference: str) -> str:
    """A case with an ID front and a selfie, sent the way a tablet sends it."""
    case_id = str(uuid.uuid4())
    submit_over_api(office.server.base_url, case_id, 1, answers(first, last, f"P{reference}"),
                    [(str(uuid.uuid4()), jpeg(1, (800, 520), "ID FRONT"), "id_front"),
                     (str(uuid.uuid4()), jpeg(2, (480, 640), "SELFIE"), "selfie")],
                    reference=reference)
    return case_id


@pytest.fixture(scope="module")
def cases(office_server: OfficeServer) -> dict[str, str]:
    tag = uuid.uuid4().hex[:6]
    return {"mouse-return": seed_case(office_server, "Ada", f"Mouse{tag}", f"M1-{tag}"),
            "mouse-approve": seed_case(office_server, "Alan", f"Mice{tag}", f"M2-{tag}"),
            "keys-return": seed_case(office_server, "Grace", f"Keys{tag}", f"K1-{tag}"),
            "keys-approve": seed_case(office_server, "Edsger", f"Keyed{tag}", f"K2-{tag}"),
            "hostile": seed_case(office_server, *HOSTILE, f"H-{tag}"),
            "tag": tag}


def state_of(office: OfficeServer, case_id: str) -> tuple[str, int]:
    [(state,)] = office.server.query("SELECT state FROM review_cases WHERE case_id = ?",
                                     (case_id,))
    comments = office.server.query("SELECT count(*) FROM review_comments WHERE case_id = ?",
                                   (case_id,))[0][0]
    return state, comments


def viewer(driver: WebDriver) -> dict[str, Any]:
    pane = driver.find_element(By.ID, "viewer-a")
    image = pane.find_element(By.CSS_SELECTOR, "img.shown")
    return {"zoom": float(pane.get_attribute("data-zoom") or 0),
            "angle": int(pane.get_attribute("data-angle") or 0),
            "loaded": driver.execute_script(
                "return arguments[0].complete && arguments[0].naturalWidth", image)}


def no_dialog(driver: WebDriver) -> None:
    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text  # noqa: B018


# -- keyboard -------------------------------------------------------------------------
def tab_to(driver: WebDriver, matches: Callable[[WebElement], bool], *,
           limit: int = 400) -> WebElement:
    """Press Tab until the focused element matches (what a keyboard user does)."""
    for _ in range(limit):
        driver.switch_to.active_element.send_keys(Keys.TAB)
        focused = driver.switch_to.active_element
        if matches(focused):
            return focused
    raise AssertionError("Tab never reached the element")


def by_id(element_id: str) -> Callable[[WebElement], bool]:
    return lambda e: e.get_attribute("id") == element_id


def by_text(text: str) -> Callable[[WebElement], bool]:
    return lambda e: e.text.strip() == text or e.get_attribute("aria-label") == text


def focus_outline(driver: WebDriver) -> str:
    return str(driver.execute_script(
        "return getComputedStyle(document.activeElement).outlineStyle"))


# -- the journeys ---------------------------------------------------------------------
def test_the_reviewers_journey_with_the_mouse(office_server: OfficeServer,
                                              browser: WebDriver,
                                              cases: dict[str, str]) -> None:
    account = office_server.add_account("reviewer")
    sign_in(browser, office_server, account)
    assert_no_serious_axe_violations(browser)  # the queue
    search = browser.find_element(By.ID, "q")
    search.send_keys(f"mouse{cases['tag']}")
    with navigating(browser):  # the queue before the search has a table.queue too
        browser.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    wait_for(browser, "table.queue")
    rows = browser.find_elements(By.CSS_SELECTOR, "table.queue tbody tr")
    assert len(rows) == 1 and f"Mouse{cases['tag']}" in rows[0].text
    rows[0].find_element(By.TAG_NAME, "a").click()
    wait_for(browser, "#viewer-a img.shown")
    WebDriverWait(browser, 10).until(lambda d: viewer(d)["loaded"])
    assert_no_serious_axe_violations(browser)  # the case page
    zoom_in = browser.find_element(By.CSS_SELECTOR, '#viewer-a [data-action="zoom-in"]')
    zoom_in.click()
    zoom_in.click()
    browser.find_element(By.CSS_SELECTOR, '#viewer-a [data-action="rotate-right"]').click()
    seen = viewer(browser)
    assert seen["zoom"] > 1.5 and seen["angle"] == 90
    browser.find_element(By.CSS_SELECTOR, '[data-show="b"]').click()
    assert browser.find_element(By.ID, "viewer-b").is_displayed()  # side by side
    # One comment from the answer's own button, one chosen in the form's list.
    browser.find_element(By.CSS_SELECTOR,
                         '.comment-on[data-target="field:applicant.last_name"]').click()
    browser.switch_to.active_element.send_keys("Spell it as on the passport")
    assert browser.find_element(By.ID, "target-0").get_attribute("value") == \
        "field:applicant.last_name"
    browser.find_element(By.CSS_SELECTOR,
                         '#target-1 option[value="field:identity.document_number"]').click()
    browser.find_element(By.ID, "comment-1").send_keys("One digit is missing")
    browser.find_element(By.ID, "add-comment").click()
    assert browser.find_element(By.ID, "target-3").get_attribute("value") == ""
    with navigating(browser):
        browser.find_element(By.CSS_SELECTOR, 'button[value="return"]').click()
    assert "return" in wait_for(browser, "p.notice[role=status]").text
    assert state_of(office_server, cases["mouse-return"]) == ("returned", 2)
    # Approve another.
    browser.get(office_server.url(f"/office/queue?q=mice{cases['tag']}"))
    browser.find_element(By.CSS_SELECTOR, "table.queue tbody tr a").click()
    with navigating(browser):
        wait_for(browser, 'button[value="approve"]').click()
    assert "approve" in wait_for(browser, "p.notice[role=status]").text
    assert state_of(office_server, cases["mouse-approve"]) == ("approved", 0)
    assert csp_violations(browser) == []
    with navigating(browser):
        browser.find_element(By.CSS_SELECTOR, "form.sign-out button").click()
    assert wait_for(browser, "p.notice").text == "You are signed out."
    assert {"case.returned", "case.approved"} <= set(office_server.audit_actions())


def test_the_reviewers_journey_by_keyboard_alone(office_server: OfficeServer,
                                                 browser: WebDriver,
                                                 cases: dict[str, str]) -> None:
    account = office_server.add_account("reviewer")
    browser.get(office_server.url("/office/sign-in"))
    browser.switch_to.active_element.send_keys(account.username, Keys.TAB)
    browser.switch_to.active_element.send_keys(account.password, Keys.TAB)
    browser.switch_to.active_element.send_keys(account.code(), Keys.ENTER)
    wait_for(browser, "form.sign-out")
    with navigating(browser):
        tab_to(browser, by_id("q")).send_keys(f"keys{cases['tag']}", Keys.ENTER)
    wait_for(browser, "table.queue")
    link = tab_to(browser, lambda e: e.tag_name == "a" and e.text.startswith("K1-"))
    assert focus_outline(browser) != "none"  # the focus is visible
    link.send_keys(Keys.ENTER)
    wait_for(browser, "#viewer-a img.shown")
    WebDriverWait(browser, 10).until(lambda d: viewer(d)["loaded"])
    tab_to(browser, by_text("Zoom in")).send_keys(Keys.ENTER)
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    tab_to(browser, by_text("Rotate left")).send_keys(Keys.ENTER)
    stage = tab_to(browser, lambda e: "stage" in (e.get_attribute("class") or ""))
    stage.send_keys("r")  # the viewer's own keys on the focused photo
    seen = viewer(browser)
    assert seen["zoom"] > 1.5 and seen["angle"] == 0
    for n, label in enumerate(("Last name", "Document number")):
        select = tab_to(browser, by_id(f"target-{n}"))
        options = select.find_elements(By.CSS_SELECTOR, "option")
        wanted = next(o for o in options if o.text.endswith(label))
        for _ in range(options.index(wanted)):
            select.send_keys(Keys.ARROW_DOWN)
        assert select.get_attribute("value") == wanted.get_attribute("value")
        browser.switch_to.active_element.send_keys(Keys.TAB)
        browser.switch_to.active_element.send_keys(f"Comment on {label.lower()}")
    with navigating(browser):
        tab_to(browser, by_text("Return with comments")).send_keys(Keys.ENTER)
    assert "return" in wait_for(browser, "p.notice[role=status]").text
    assert state_of(office_server, cases["keys-return"]) == ("returned", 2)
    with navigating(browser):
        tab_to(browser, by_text("← Back to the queue")).send_keys(Keys.ENTER)
    with navigating(browser):
        tab_to(browser, by_id("q")).send_keys(f"keyed{cases['tag']}", Keys.ENTER)
    wait_for(browser, "table.queue")
    tab_to(browser, lambda e: e.tag_name == "a" and e.text.startswith("K2-")
           ).send_keys(Keys.ENTER)
    wait_for(browser, 'button[value="approve"]')
    with navigating(browser):
        tab_to(browser, by_text("Approve")).send_keys(Keys.ENTER)
    assert "approve" in wait_for(browser, "p.notice[role=status]").text
    assert state_of(office_server, cases["keys-approve"]) == ("approved", 0)
    with navigating(browser):
        tab_to(browser, by_text("Sign out")).send_keys(Keys.ENTER)
    assert wait_for(browser, "p.notice").text == "You are signed out."


def test_hostile_names_render_as_text(office_server: OfficeServer, browser: WebDriver,
                                      cases: dict[str, str]) -> None:
    sign_in(browser, office_server, office_server.add_account("reviewer"))
    browser.get(office_server.url(f"/office/queue?q=H-{cases['tag']}"))
    row = wait_for(browser, "table.queue tbody tr")
    assert HOSTILE[0] in row.text and HOSTILE[1] in row.text
    no_dialog(browser)
    browser.get(office_server.url(f"/office/cases/{cases['hostile']}"))
    heading = wait_for(browser, "h1")
    assert HOSTILE[0] in heading.text and HOSTILE[1] in heading.text
    assert browser.find_elements(By.CSS_SELECTOR, "img[src=x]") == []
    no_dialog(browser)
    assert csp_violations(browser) == []
