"""`kycdesk-launcher`: starts the version the pointer names (docs/updates.md).

Standard library only, and tiny: it is built into its own small executable that stays at
`<install>/` across updates. It counts the starts of a version on trial and goes back to
the previous version after two failed starts; the app marks a start good once its startup
has finished (`pointer.mark_good`). `kycdesk-launcher --adopt VERSION` (the installer)
sets the pointer after an install without ever moving it backwards (`adopt`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from kycdesk.update.pointer import (
    INSTALL_ROOT_ENV,
    RELEASE_ENV,
    InstallRoot,
    State,
    choose_start,
    is_newer,
    read_state,
    write_state,
)


def install_root_of_launcher() -> Path:
    """`<install>/` is the launcher's own folder (frozen), or KYCDESK_INSTALL_ROOT."""
    given = os.environ.get(INSTALL_ROOT_ENV)
    if given:
        return Path(given)
    return Path(sys.executable if getattr(sys, "frozen", False) else sys.argv[0]).resolve().parent


# Runs that are not a start of the app (a question, a command): never counted as a trial
# start of a new version, so `kycdesk --version` or a scheduled `kycdesk sync` cannot roll
# back a version that works.
NOT_A_START = {"--version", "--self-test", "--licenses", "-h", "--help"}


def is_app_start(args: list[str]) -> bool:
    options_with_values = {"--data-dir", "--user"}
    for i, arg in enumerate(args):
        if arg in NOT_A_START:
            return False
        if not arg.startswith("-") and (i == 0 or args[i - 1] not in options_with_values):
            return False  # a subcommand (sync, doctor, update, case ...)
    return True


# The app restarting itself into a new version (kiosk quiet hour) starts the launcher and
# quits: the launcher waits for it to be gone, so the new version's start cannot fail on
# the old one's locks (which would count as a failed start).
WAIT_FOR_PID_ENV = "KYCDESK_WAIT_FOR_PID"
WAIT_FOR_PID_S = 60.0


def wait_for_exit(pid: int, timeout_s: float = WAIT_FOR_PID_S) -> None:
    ends = time.monotonic() + timeout_s
    if sys.platform == "win32":
        import ctypes

        synchronize = 0x00100000
        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined,unused-ignore]
        handle = kernel32.OpenProcess(synchronize, False, pid)
        if handle:
            kernel32.WaitForSingleObject(handle, int(timeout_s * 1000))
            kernel32.CloseHandle(handle)
        return
    while time.monotonic() < ends:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        except PermissionError:  # someone else's process by now: ours is gone
            return
        time.sleep(0.05)


ADOPT = "--adopt"


def adopt(install: InstallRoot, version: str) -> State:
    """The pointer after the installer copied `version` in (`kycdesk-launcher --adopt V`).
    It never moves `current` backwards: re-running an older installer on a tablet that
    updated itself keeps the newer version (whose database the older one may refuse) and
    the versions it refused (`rolled_back`). A newer `version` starts on trial, with the
    last version that worked to go back to; a first install just starts it."""
    state = read_state(install)
    if state is None or not install.executable(state.current).is_file():
        return State(current=version)
    if state.current == version or is_newer(state.current, version):
        return state
    previous = state.previous if state.pending else state.current
    return State(current=version, previous=previous, pending=previous is not None,
                 rolled_back=tuple(v for v in state.rolled_back if v != version))


def adopt_command(args: list[str]) -> int:
    if len(args) != 1 or not args[0]:
        print(f"usage: kycdesk-launcher {ADOPT} VERSION", file=sys.stderr)
        return 2
    install = InstallRoot(install_root_of_launcher())
    if not install.executable(args[0]).is_file():
        print(f"kycdesk-launcher: {install.executable(args[0])} is not installed",
              file=sys.stderr)
        return 2
    state = adopt(install, args[0])
    if state != read_state(install):
        write_state(install, state)
    print(f"kycdesk-launcher: {state.current} starts next"
          + (" (on trial)" if state.pending else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == [ADOPT]:  # the installer, after copying a version in
        return adopt_command(args[1:])
    waited = os.environ.pop(WAIT_FOR_PID_ENV, "")
    if waited.isdigit():
        wait_for_exit(int(waited))
    install = InstallRoot(install_root_of_launcher())
    chosen = choose_start(install, count=is_app_start(args))
    if chosen is None:
        print(f"kycdesk-launcher: no installed version under {install.versions}; "
              "reinstall kycdesk", file=sys.stderr)
        return 2
    version, state = chosen
    if state != read_state(install):
        try:
            write_state(install, state)  # counted (or rolled back) before the start, durably
        except OSError as exc:
            # A full disk or a read-only pointer must not keep kycdesk from starting: this
            # start goes uncounted (a rollback is retried on the next start).
            print(f"kycdesk-launcher: could not record this start in {install.state_file} "
                  f"({exc}); starting {version} anyway", file=sys.stderr)
    env = dict(os.environ, **{INSTALL_ROOT_ENV: str(install.root), RELEASE_ENV: version})
    executable = str(install.executable(version))
    if sys.platform == "win32":  # no real exec on Windows: wait and pass the exit code on
        return subprocess.call([executable, *args], env=env)
    os.execve(executable, [executable, *args], env)


if __name__ == "__main__":
    raise SystemExit(main())
