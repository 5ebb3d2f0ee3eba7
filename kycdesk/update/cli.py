"""`kycdesk update check|apply`: the updater from the command line (kiosk schedulers, IT).

Exit codes: 0 up to date or updated, 1 refused or failed (the message says why)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from kycdesk.exit_codes import ExitCode
from kycdesk.update.pointer import INSTALL_ROOT_ENV, InstallRoot


def add_parser(sub: argparse._SubParsersAction,  # type: ignore[type-arg]
               common: argparse.ArgumentParser) -> None:
    update = sub.add_parser("update", parents=[common],
                            help="check for a signed new version of kycdesk, or install it")
    update.add_argument("action", choices=["check", "apply"],
                        help="check: say whether a newer version exists; apply: download, "
                             "verify, self-test and switch to it (from the next start)")
    update.add_argument("--install-root", type=Path,
                        help=f"the installation folder (default: env {INSTALL_ROOT_ENV}, "
                             "which the launcher sets)")
    update.add_argument("--server", help="update repository address (default: the "
                                         "installation's update/config.json)")
    update.add_argument("--deadline", type=float, default=3600.0, metavar="SECONDS",
                        help="stop the download after this long (default 3600; what was "
                             "downloaded is kept and resumed)")
    update.add_argument("--stall-timeout", type=float, default=30.0, metavar="SECONDS",
                        help="a download that moves no data for this long is dropped and "
                             "resumed next time (default 30)")


def run(args: argparse.Namespace) -> int:
    from kycdesk.update.client import UpdateProblemError, Updater, describe
    from kycdesk.update.fetch import UpdateLink

    root = args.install_root or (Path(os.environ[INSTALL_ROOT_ENV])
                                 if os.environ.get(INSTALL_ROOT_ENV) else None)
    if root is None:
        print("kycdesk update: this copy was not started by the kycdesk launcher; give "
              "--install-root", file=sys.stderr)
        return ExitCode.PROBLEMS
    link = UpdateLink(stall_s=max(5.0, args.stall_timeout), deadline_s=args.deadline)
    try:
        updater = Updater(InstallRoot(root), link=link, repository=args.server,
                          progress=lambda line: print(line, flush=True))
        if args.action == "check":
            offer = updater.check()
            print(describe(offer) if offer else "kycdesk is up to date")
            return ExitCode.OK
        version = updater.apply()
        print(f"updated to {version}: it starts from the next start of kycdesk"
              if version else "kycdesk is up to date")
        return ExitCode.OK
    except UpdateProblemError as exc:
        print(str(exc), file=sys.stderr)
        return ExitCode.PROBLEMS
    finally:
        link.close()
