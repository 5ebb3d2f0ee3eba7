"""Screenshots of the review pages (queue, case) in a real headless Chromium, to
docs/screenshots/review-*.png, from a throwaway server whose cases arrive through its own
API (tus uploads of generated JPEGs, then submissions).

    .venv/bin/python tools/review_screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from kycdesk.demo import demo_form
from tests.browser_support import OfficeServer, fill_sign_in, start_browser, wait_for
from tests.review_support import jpeg, submit_over_api
from tests.sync_support import start_server

CASES = 12


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        server = start_server(Path(folder) / "data", log=Path(folder) / "server.log")
        browser = start_browser(Path(folder) / "profile")
        try:
            office = OfficeServer(server)
            featured = str(uuid.uuid4())
            rng = random.Random(16)
            for n in range(CASES):
                case_id = featured if n == 0 else str(uuid.uuid4())
                photos = [(str(uuid.uuid4()), jpeg(n, (800, 520), "ID FRONT"), "id_front"),
                          (str(uuid.uuid4()), jpeg(n + 1, (480, 640), "SELFIE"), "selfie")]
                reference, values, _city = demo_form(rng)
                submit_over_api(server.base_url, case_id, 1, values, photos,
                                reference=reference)
                if n == 0:  # a resubmission: the case page shows the diff
                    submit_over_api(server.base_url, case_id, 2,
                                    {**values, "address.line1": "16 Willow Lane"}, photos,
                                    reference=reference)
            reviewer = office.add_account("reviewer", with_totp=False)
            fill_sign_in(browser, office, reviewer.username, reviewer.password)
            wait_for(browser, "table.queue")
            browser.set_window_size(1280, 760)
            browser.save_screenshot(str(args.out / "review-queue.png"))
            browser.get(office.url(f"/office/cases/{featured}"))
            WebDriverWait(browser, 10).until(lambda d: d.execute_script(
                "return document.querySelector('#viewer-a img.shown').naturalWidth"))
            buttons = browser.find_elements(By.CSS_SELECTOR, '[data-show="b"]')
            buttons[-1].click()
            browser.set_window_size(1440, 1100)
            browser.execute_script("window.scrollTo(0, 0)")
            browser.save_screenshot(str(args.out / "review-case.png"))
        finally:
            browser.quit()
            server.stop()
    for name in ("review-queue", "review-case"):
        print(args.out / f"{name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
