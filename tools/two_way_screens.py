"""Screenshots of the two-way screens (issue 17), taken the way a verifier sees them: the
real app on an X server (Xvfb) at 1366×768 with room for a 40 px taskbar, driven with
xdotool — real clicks, keys and wheel turns.

    .venv/bin/python tools/two_way_screens.py [--out docs/screenshots] [--keep]

Needs Xvfb, xdotool and ImageMagick's `import` (Debian: xvfb xdotool imagemagick). The
data folder is prepared first, as a pull would fill it (tests/two_way_cases.py): four
assigned cases (one overdue), one returned with comments at two fields and a photo, one
with an answer both the office and the verifier changed, one approved and one rejected.
Positions below are for that window size; if the layout changes, run with --keep and
look at the PNGs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCREEN = (1366, 768)
WINDOW = (1366, 728)  # the screen minus a 40 px taskbar
DISPLAY = ":47"
VERIFIER, PASSPHRASE = "Demo", "screenshots of two-way"  # a scratch tablet's verifier


def prepare(data: Path) -> str:
    """The data folder, filled as pulls fill it (run in a child: Qt stays out of here).
    Returns the reference of the rejected case (the driver searches for it)."""
    code = (
        "import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        "from pathlib import Path\n"
        "from PySide6.QtGui import QGuiApplication\n"
        "app = QGuiApplication([])  # the demo photos are drawn with QPainter\n"
        "from kycdesk.demo import generate\n"
        "from kycdesk.paths import resolve_tablet\n"
        "from kycdesk.persistence.store import LocalStore\n"
        "from kycdesk.verifiers.registry import Registry\n"
        "from tests import two_way_cases\n"
        "session = Registry.open(resolve_tablet(Path(sys.argv[1]))).add(sys.argv[2], sys.argv[3])\n"
        "with LocalStore(session.paths, vault=session.vault) as store:\n"
        "    generate(store, cases=6, images_per_case=3, status='mixed', seed=11,\n"
        "             image_size=(1200, 900))\n"
        "    made = generate(store, cases=3, images_per_case=3, status='synced', seed=5,\n"
        "                    image_size=(1200, 900))\n"
        "    desk = two_way_cases.seed(store, made.case_ids)\n"
        "    print(store.load_case(desk.rejected).reference_number)\n")
    done = subprocess.run([sys.executable, "-c", code, str(data), VERIFIER, PASSPHRASE],
                          check=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True)
    return done.stdout.strip().splitlines()[-1]


@contextmanager
def x_server() -> Iterator[dict[str, str]]:
    number = DISPLAY.lstrip(":")
    server = subprocess.Popen(["Xvfb", DISPLAY, "-screen", "0",
                               f"{SCREEN[0]}x{SCREEN[1]}x24", "-nolisten", "tcp"],
                              stderr=subprocess.DEVNULL)
    socket = Path(f"/tmp/.X11-unix/X{number}")
    deadline = time.monotonic() + 20
    while not socket.exists():
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit("Xvfb did not start")
        time.sleep(0.1)
    try:
        yield {**os.environ, "DISPLAY": DISPLAY, "QT_QPA_PLATFORM": "xcb"}
    finally:
        server.terminate()
        server.wait(10)


class Driver:
    """xdotool on one window: positions are relative to its top-left corner."""

    def __init__(self, env: dict[str, str], out: Path) -> None:
        self.env = env
        self.out = out
        self.window = ""

    def xdo(self, *args: str) -> str:
        return subprocess.run(["xdotool", *args], env=self.env, check=True,
                              capture_output=True, text=True).stdout.strip()

    def find_window(self, name: str) -> None:
        self.window = self.xdo("search", "--sync", "--onlyvisible", "--name",
                               name).splitlines()[0]
        self.xdo("windowmove", self.window, "0", "0")
        self.xdo("windowsize", self.window, str(WINDOW[0]), str(WINDOW[1]))
        self.wait(1.5)

    def wait(self, seconds: float = 0.6) -> None:
        time.sleep(seconds)  # the app repaints on its own thread; nothing to poll here

    def click(self, x: int, y: int, *, button: int = 1, double: bool = False) -> None:
        self.xdo("mousemove", "--window", self.window, str(x), str(y))
        self.xdo("click", *(["--repeat", "2", "--delay", "80"] if double else []),
                 str(button))
        self.wait()

    def wheel(self, x: int, y: int, notches: int) -> None:
        """Positive: down."""
        self.xdo("mousemove", "--window", self.window, str(x), str(y))
        self.xdo("click", "--repeat", str(abs(notches)), "--delay", "60",
                 "5" if notches > 0 else "4")
        self.wait()

    def key(self, *keys: str) -> None:
        self.xdo("key", "--window", self.window, "--delay", "80", *keys)
        self.wait()

    def type(self, text: str) -> None:
        self.xdo("type", "--window", self.window, "--delay", "40", text)
        self.wait()

    def shot(self, name: str, *, whole_screen: bool = False) -> Path:
        """The window (or the whole screen: a dialog is a window of its own)."""
        path = self.out / f"{name}.png"
        crop = [] if whole_screen else ["-crop", f"{WINDOW[0]}x{WINDOW[1]}+0+0", "+repage"]
        subprocess.run(["import", "-window", "root", *crop, str(path)], env=self.env,
                       check=True)
        print(path)
        return path


# Window-relative positions at 1366 x 728 (read off the PNGs of an --explore run).
SEARCH_BOX = (300, 75)
ASSIGNED_BUTTON = (993, 75)
RETURNED_BUTTON = (1145, 75)
FIRST_ROW = (400, 145)
THIRD_ROW = (400, 233)
FIRST_COMMENT = (400, 151)
SECOND_COMMENT = (400, 195)
PHOTO_THUMBNAIL = (460, 450)
CASE_TITLE = (700, 59)
SUBMIT_BUTTON = (1290, 644)


def drive(d: Driver, rejected_reference: str) -> None:
    # The list: the office's work has its own views with counts, beside the others.
    d.shot("two-way-case-list")
    d.click(*ASSIGNED_BUTTON)
    d.shot("assigned-to-you")
    # The overdue case: the assignment at the top, its prefilled answers marked.
    d.click(*FIRST_ROW, double=True)
    d.wait(2)
    d.shot("assigned-prefilled")
    d.key("ctrl+w")
    # "Returned to you": the comments as a list; a click goes to the answer.
    d.click(*RETURNED_BUTTON)
    d.click(*FIRST_ROW, double=True)
    d.wait(2)
    d.shot("returned-with-comments")
    d.click(*SECOND_COMMENT)
    d.wait(1)
    d.shot("returned-comment-at-field")
    # The photo comment: the wheel scrolls the list, a click: the photo, selected in its
    # slot, with the comment over it.
    d.wheel(*SECOND_COMMENT, 2)
    d.click(*FIRST_COMMENT)
    d.wait(1)
    d.shot("returned-comment-at-photo")
    d.click(*PHOTO_THUMBNAIL, double=True)  # the viewer says it over the photo too
    d.wait(2)
    d.shot("photo-viewer-comment", whole_screen=True)
    d.key("Escape")
    d.click(*CASE_TITLE)  # no window manager: a click gives the main window the keys back
    d.key("ctrl+w")
    # The conflict: both values, who changed each and when; Submit says why it waits.
    d.click(*RETURNED_BUTTON)  # off: every case again
    d.click(*ASSIGNED_BUTTON)
    d.click(*THIRD_ROW, double=True)
    d.wait(2)
    d.click(*SUBMIT_BUTTON)
    d.shot("conflict-choice")
    d.key("Right", "Return")  # keep this device's value
    d.wait(1.5)
    d.shot("conflict-resolved")
    d.key("ctrl+w")
    # A decision on a sent case, read-only.
    d.click(*ASSIGNED_BUTTON)  # off: every case again
    d.click(*SEARCH_BOX)
    d.type(rejected_reference)
    d.wait(1)
    d.click(*FIRST_ROW, double=True)
    d.wait(2)
    d.shot("decision-rejected")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--keep", action="store_true", help="keep the data folder")
    parser.add_argument("--explore", action="store_true",
                        help="only start the app and take one picture")
    args = parser.parse_args()
    for tool in ("Xvfb", "xdotool", "import"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: apt-get install xvfb xdotool imagemagick")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="kycdesk-two-way-"))
    data = tmp / "data"
    rejected = prepare(data)
    with x_server() as env:
        app = subprocess.Popen([sys.executable, "-m", "kycdesk", "--data-dir", str(data),
                                "--user", VERIFIER, "--pin-stdin"],
                               cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)},
                               stdin=subprocess.PIPE, text=True)
        assert app.stdin is not None
        app.stdin.write(PASSPHRASE + "\n")
        app.stdin.close()
        try:
            driver = Driver(env, out)
            driver.find_window("^kycdesk$")
            driver.wait(2)
            if args.explore:
                driver.shot("explore")
            else:
                drive(driver, rejected)
        finally:
            app.terminate()
            app.wait(30)
    if args.keep:
        print("data folder kept:", data)
    else:
        shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
