"""Screenshots of the review pages (queue, case) for tools/office_screenshots.py: cases
sent through the server's own API (tus uploads of generated JPEGs, then submissions),
a reviewer signed in, docs/screenshots/review-*.png."""

from __future__ import annotations

import random
import uuid
from pathlib import Path

from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from kycdesk.demo import demo_form
from tests.browser_support import OfficeServer, fill_sign_in, wait_for
from tests.review_support import jpeg, submit_over_api

CASES = 12
NAMES = ("review-queue", "review-case")


def take(office: OfficeServer, browser: WebDriver, out: Path) -> list[Path]:
    rng = random.Random(16)
    featured = str(uuid.uuid4())
    for n in range(CASES):
        case_id = featured if n == 0 else str(uuid.uuid4())
        photos = [(str(uuid.uuid4()), jpeg(n, (800, 520), "ID FRONT"), "id_front"),
                  (str(uuid.uuid4()), jpeg(n + 1, (480, 640), "SELFIE"), "selfie")]
        reference, values, _city = demo_form(rng)
        submit_over_api(office.server.base_url, case_id, 1, values, photos,
                        reference=reference)
        if n == 0:  # a resubmission: the case page shows the diff
            submit_over_api(office.server.base_url, case_id, 2,
                            {**values, "address.line1": "16 Willow Lane"}, photos,
                            reference=reference)
    reviewer = office.add_account("reviewer", with_totp=False)
    fill_sign_in(browser, office, reviewer.username, reviewer.password)
    wait_for(browser, "table.queue")
    browser.set_window_size(1280, 760)
    browser.save_screenshot(str(out / "review-queue.png"))
    browser.get(office.url(f"/office/cases/{featured}"))
    WebDriverWait(browser, 10).until(lambda d: d.execute_script(
        "return document.querySelector('#viewer-a img.shown').naturalWidth"))
    browser.find_elements(By.CSS_SELECTOR, '[data-show="b"]')[-1].click()
    browser.set_window_size(1440, 1100)
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(out / "review-case.png"))
    return [out / f"{name}.png" for name in NAMES]
