"""Screenshots of the back office's pages in a real headless Chromium, to
docs/screenshots/office-*.png, from a throwaway server with throwaway accounts.

    .venv/bin/python tools/office_screenshots.py [--out docs/screenshots]

Uses the browser tests' own harness (tests/browser_support.py): Debian's chromium and
chromium-driver must be installed (`python3 dev.py test` installs them).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from selenium.webdriver.common.by import By

from tests.browser_support import OfficeServer, fill_sign_in, start_browser, wait_for
from tests.sync_support import start_server
from tools import review_screenshots


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
            admin = office.add_account("admin", with_totp=False)
            browser.set_window_size(1100, 900)
            browser.get(office.url("/office/sign-in"))
            browser.find_element(By.ID, "username").send_keys(admin.username)
            browser.save_screenshot(str(args.out / "office-sign-in.png"))
            fill_sign_in(browser, office, admin.username, "not the password")
            wait_for(browser, "p.error")
            browser.save_screenshot(str(args.out / "office-sign-in-error.png"))
            fill_sign_in(browser, office, admin.username, admin.password)
            wait_for(browser, "#totp-secret")
            browser.set_window_size(1100, 1300)
            browser.execute_script("window.scrollTo(0, 0)")
            browser.save_screenshot(str(args.out / "office-totp-enrolment.png"))
            review_screenshots.take(office, browser, args.out)
        finally:
            browser.quit()
            server.stop()
    for name in ("office-sign-in", "office-sign-in-error", "office-totp-enrolment",
                 *review_screenshots.NAMES):
        print(args.out / f"{name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
