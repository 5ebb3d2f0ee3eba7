"""Screenshots of issue 18's screens, taken the way a verifier meets them: the real app on
an X server (Xvfb) at 1366×768, driven with xdotool — real clicks and keys.

    .venv/bin/python tools/signin_screens.py [--out docs/screenshots] [--explore]

Needs Xvfb, xdotool and ImageMagick's `import` (Debian: xvfb xdotool imagemagick).
Three verifiers are added with `kycdesk user add … --pin-stdin` and demo cases made for
one of them; the app runs with its own settings file (XDG_CONFIG_HOME in the temp folder)
so the idle lock can be short (0.1 min) and kiosk mode switched on for the last part.
Positions are window-relative at 1366 × 728 (read off the PNGs of an --explore run).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.two_way_screens import Driver, x_server  # noqa: E402

PIN = "blue kettle on the train"
OTHER_PIN = "seven green apples at dawn"


def kycdesk(data: Path, *args: str, pin: str = "", env: dict[str, str] | None = None
            ) -> None:
    subprocess.run([sys.executable, "-m", "kycdesk", *args, "--data-dir", str(data)],
                   input=pin, text=True, check=True, cwd=ROOT, capture_output=True,
                   env={**(env or os.environ), "PYTHONPATH": str(ROOT),
                        "QT_QPA_PLATFORM": "offscreen"})


def prepare(data: Path, config: Path) -> None:
    kycdesk(data, "user", "add", "Ana", "--pin-stdin", pin=PIN + "\n")
    kycdesk(data, "user", "add", "Ben", "--pin-stdin", pin=OTHER_PIN + "\n")
    kycdesk(data, "user", "add", "Chiara", "--pin-stdin", pin=OTHER_PIN + "\n")
    kycdesk(data, "demo-data", "--user", "Ana", "--pin-stdin", "--cases", "8",
            pin=PIN + "\n")
    write_settings(config, kiosk=False)


def write_settings(config: Path, *, kiosk: bool) -> None:
    folder = config / "kycdesk"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "kycdesk.conf").write_text(
        "[security]\nidle_lock_minutes=0.1\n"
        f"kiosk_mode={'true' if kiosk else 'false'}\n", encoding="utf-8")


# Window-relative positions at 1366 x 728.
FIRST_VERIFIER = (554, 258)     # Ana, the first of the large buttons
DOCUMENT_NUMBER = (800, 247)    # step 2 of a new case
KIOSK_LEAVE = (1272, 26)        # full screen: "Verifier: leave this case"
SWITCH_ITEM = (1222, 670)       # the verifier menu's "Switch verifier"
SETTINGS_BUTTON = (1259, 702)
VERIFIER_MENU = (1340, 702)     # "Ana ▾" in the status bar
SERVER_ADDRESS = (735, 98)      # in the Settings dialog
KIOSK_BOX = (490, 422)
SAVE_BUTTON = (856, 545)


def drive(d: Driver) -> None:
    d.shot("signin-choose")
    d.click(*FIRST_VERIFIER)
    for _ in range(3):
        d.type("not my pin")
        d.key("Return")
        d.wait(1.2)
    d.shot("signin-wrong-pin")
    d.wait(5.5)  # the countdown runs out
    d.type(PIN)
    d.key("Return")
    d.wait(3)
    d.find_window("^kycdesk$")
    d.key("ctrl+n")
    d.wait(2)
    d.key("ctrl+Next")
    d.wait(1)
    d.click(*DOCUMENT_NUMBER)
    d.type("B4760")
    d.key("Left", "Left")
    d.shot("signed-in-case")
    d.wait(8)  # no input: the idle lock (0.1 min here; 5 min by default)
    d.find_window("sign in")
    d.shot("lock-screen")
    d.type(PIN)
    d.key("Return")
    d.wait(3)
    d.find_window("^kycdesk$")
    d.shot("unlocked-where-you-were")
    # Kiosk mode, switched on in Settings (with the idle time beside it).
    d.click(*SETTINGS_BUTTON)
    d.wait(1)
    d.click(*SERVER_ADDRESS)
    d.type("https://kyc.example.org")
    d.click(*KIOSK_BOX)
    d.shot("settings-lock-kiosk", whole_screen=True)
    d.click(*SAVE_BUTTON)
    d.wait(2)
    d.shot("kiosk-mode", whole_screen=True)
    d.click(*KIOSK_LEAVE)  # (Esc, Ctrl+W, Ctrl+L and closing the window: the same)
    d.wait(1)
    d.shot("kiosk-leave-needs-pin", whole_screen=True)
    d.type(PIN)
    d.key("Return")
    d.wait(2)
    d.shot("kiosk-left", whole_screen=True)


def switch(d: Driver) -> None:
    """Verifier switch (kiosk off): the menu, then the sign-in screen."""
    d.click(*VERIFIER_MENU)
    d.wait(1)
    d.shot("verifier-menu", whole_screen=True)
    d.click(*SWITCH_ITEM)
    d.wait(2)
    d.find_window("sign in")
    d.shot("verifier-switch")


def first_use(d: Driver) -> None:
    d.type("Dana")  # the name field has the focus
    d.key("Tab")
    d.type("password1234")
    d.key("Tab")
    d.type("password1234")
    d.key("Return")
    d.wait(2)
    d.shot("signin-first-use")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--explore", action="store_true",
                        help="only start the app and take one picture")
    args = parser.parse_args()
    for tool in ("Xvfb", "xdotool", "import"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: apt-get install xvfb xdotool imagemagick")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="kycdesk-signin-"))
    data, config = tmp / "data", tmp / "config"
    prepare(data, config)
    with x_server() as x_env:
        env = {**x_env, "XDG_CONFIG_HOME": str(config), "PYTHONPATH": str(ROOT)}
        app = subprocess.Popen([sys.executable, "-m", "kycdesk", "--data-dir", str(data)],
                               cwd=ROOT, env=env)
        try:
            driver = Driver(env, out)
            driver.find_window("sign in")
            driver.wait(2)
            if args.explore:
                driver.shot("explore")
            else:
                drive(driver)
        finally:
            app.terminate()
            app.wait(30)
        if not args.explore:  # again with kiosk mode off: the verifier switch
            write_settings(config, kiosk=False)
            app = subprocess.Popen([sys.executable, "-m", "kycdesk", "--data-dir",
                                    str(data), "--user", "Ana", "--pin-stdin"],
                                   cwd=ROOT, env=env, stdin=subprocess.PIPE)
            try:
                assert app.stdin is not None
                app.stdin.write(f"{PIN}\n".encode())
                app.stdin.close()
                driver = Driver(env, out)
                driver.find_window("^kycdesk$")
                driver.wait(2)
                switch(driver)
            finally:
                app.terminate()
                app.wait(30)
        if not args.explore:  # a tablet nobody signed in on yet: the first-use page
            app = subprocess.Popen([sys.executable, "-m", "kycdesk", "--data-dir",
                                    str(tmp / "fresh")], cwd=ROOT, env=env)
            try:
                driver = Driver(env, out)
                driver.find_window("sign in")
                driver.wait(2)
                first_use(driver)
            finally:
                app.terminate()
                app.wait(30)
    shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
