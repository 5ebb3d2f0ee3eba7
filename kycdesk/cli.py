"""Command line: `kycdesk` opens the app; subcommands serve kiosks, operations and tests.

Every subcommand accepts --data-dir (also the KYCDESK_DATA_DIR environment variable).
Exit codes: 0 ok, 1 problems found / operation failed, 2 the store could not be used.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kycdesk import __version__, case_cli, verifier_cli
from kycdesk.core.clock import file_stamp
from kycdesk.core.states import CaseStatus
from kycdesk.exit_codes import ExitCode
from kycdesk.logging_setup import configure as configure_logging
from kycdesk.paths import DataPaths, TabletPaths, resolve_tablet

if TYPE_CHECKING:
    from kycdesk.security.vault import Vault

log = logging.getLogger(__name__)



def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=argparse.SUPPRESS,
                        help="data folder (default: the platform's user data dir; "
                             "env KYCDESK_DATA_DIR)")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log debug detail to stderr")
    verifier_cli.add_common_options(common)
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(prog="kycdesk", parents=[common],
                                     description="Offline-first KYC case capture.")
    parser.add_argument("--version", action="store_true",
                        help="versions of kycdesk, its forms, Qt and Python; the data folder")
    parser.add_argument("--licenses", "--licences", action="store_true",
                        help="print kycdesk's licence and the third-party notices "
                             "(every component inside, with its licence text)")
    parser.add_argument("--self-test", action="store_true",
                        help="check this installation works (no display needed)")
    # `--startup-check[=SECONDS]`: quit once startup has finished (and SECONDS have passed
    # since the cases were painted), reporting the GUI thread's longest stall meanwhile.
    parser.add_argument("--startup-check", nargs="?", type=float, const=0.0, default=None,
                        metavar="SECONDS", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    doctor = sub.add_parser("doctor", parents=[common],
                            help="check the database and photos, repair crash leftovers")
    doctor.add_argument("--move-damaged-database-aside", action="store_true",
                        help="rename a damaged database so the next start creates a new one "
                             "(case folders and photos are kept)")
    doctor.add_argument("--restart", action="store_true",
                        help="start the check from the beginning (by default a check that "
                             "was interrupted continues where it stopped)")
    demo = sub.add_parser("demo-data", parents=[common], help="create realistic demo cases")
    demo.add_argument("--cases", type=int, default=20, help="how many cases (default 20)")
    demo.add_argument("--images-per-case", type=int, default=3,
                      help="generated photos per case (default 3)")
    demo.add_argument("--status", default="mixed", type=str.upper,
                      choices=[CaseStatus.DRAFT.value, CaseStatus.READY.value, "MIXED"],
                      help="status of the demo cases (mixed: drafts, ready, synced, failed)")
    demo.add_argument("--seed", type=int, default=2026,
                      help="seed of the generated names and photos (same seed, same data)")
    demo.add_argument("--image-size", default="1600x1200", help="WIDTHxHEIGHT of each photo")
    sync = sub.add_parser("sync", parents=[common],
                          help="send every due case to the server (for kiosks and schedulers)")
    mode = sync.add_mutually_exclusive_group(required=True)
    mode.add_argument("--once", action="store_true", help="sync what is due now, then exit")
    mode.add_argument("--until-done", action="store_true",
                      help="keep going through network cuts and offline spells until every "
                           "due case is synced (or waits for a person), or --deadline passes")
    sync.add_argument("--deadline", type=float, metavar="SECONDS",
                      help="with --until-done: stop after this many seconds, requests in "
                           "flight included (what was sent is kept; default: no limit)")
    sync.add_argument("--parallel", type=int, default=3, metavar="K",
                      help="photos of a case uploaded at the same time (default 3)")
    sync.add_argument("--stall-timeout", type=float, default=30.0, metavar="SECONDS",
                      help="a request that moves no data for this long is dropped and "
                           "resumed (default 30)")
    sync.add_argument("--server", help="server address (default: the app's setting, "
                                       "or KYCDESK_SERVER)")
    sync.add_argument("--token", help="device token (default: KYCDESK_TOKEN, then the "
                                      "one kept for the verifier)")
    sync.add_argument("--now", action="store_true",
                      help="also retry failed cases whose backoff has not expired")
    sync.add_argument("--ca-bundle", help="CA certificates to trust for the server (PEM)")
    enrol = sub.add_parser("enrol", parents=[common],
                           help="enrol the verifier's cases with a one-time code from the "
                                "server's administrator (the credential is kept sealed "
                                "under their PIN)")
    enrol.add_argument("--server", required=True, help="server address (https://…)")
    enrol.add_argument("--code", required=True,
                       help="the enrolment code (dashes, spaces and case do not matter)")
    enrol.add_argument("--name", help="this device's name on the server (default: the "
                                      "computer's name)")
    enrol.add_argument("--ca-bundle", help="CA certificates to trust for the server (PEM)")
    case_cli.add_parser(sub, common)
    verifier_cli.add_parser(sub, common)
    from kycdesk.update.cli import add_parser as add_update_parser

    add_update_parser(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command. A reader that stops early (`kycdesk case list | head -c1`) is no
    error of ours: the rest of the output goes nowhere, without a traceback."""
    try:
        code = _main(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at /dev/null so that flush cannot
        # fail too (the recipe in the `signal` module's documentation).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitCode.PROBLEMS
    return code


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    tablet = resolve_tablet(getattr(args, "data_dir", None))
    paths = tablet.legacy_store()  # the data root as a whole (about, the app's start)
    configure_logging(tablet.log_dir, verbose=getattr(args, "verbose", False))
    log.info("kycdesk %s, data dir %s, command %s", __version__, tablet.root, args.command)
    if args.version:
        from kycdesk.about import about_lines

        print("\n".join(about_lines(paths)))
        return ExitCode.OK
    if args.licenses:
        from kycdesk.notices import NoticesMissingError, notices_text

        try:
            text = notices_text()
        except NoticesMissingError as exc:
            print(exc, file=sys.stderr)
            return ExitCode.PROBLEMS
        if sys.stdout is None:  # a windowed Windows build has no console to print to
            return ExitCode.PROBLEMS
        sys.stdout.flush()
        # UTF-8 whatever the console's code page: licence texts name people in any script.
        sys.stdout.buffer.write(text.encode("utf-8"))
        return ExitCode.OK
    if args.self_test:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from kycdesk.selftest import run_self_test

        return run_self_test()
    if args.command == "update":  # no store, no Qt: the installation's own files
        from kycdesk.update.cli import run as run_update

        return run_update(args)
    if args.startup_check is not None or args.command is None:
        from kycdesk.app import run_app

        return run_app(tablet, startup_check=args.startup_check,
                       sign_in=_gui_sign_in(args))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # headless commands draw no window
    if args.command == "user":
        return verifier_cli.run(tablet, args)
    if args.command == "case" and args.case_command in case_cli.NO_STORE:
        return case_cli.run_without_store(args)
    return _with_verifier(tablet, args)


def _gui_sign_in(args: argparse.Namespace) -> tuple[str, str] | None:
    """`kycdesk --user NAME --pin-stdin` (a kiosk's start script, the start-up check):
    the sign-in screen signs that verifier in by itself; otherwise it asks."""
    name = getattr(args, "user", None)
    if name is None or not getattr(args, "pin_stdin", False):
        return None
    return name, sys.stdin.readline().rstrip("\r\n")


def _with_verifier(tablet: TabletPaths, args: argparse.Namespace) -> int:
    """Every command that opens a store: the verifier's own, opened with their keys."""
    if args.command == "doctor" and not tablet.registry_file.exists() \
            and not tablet.legacy_store().database.exists():
        print(f"kycdesk doctor — data folder {tablet.root}")
        print("There is no kycdesk database in this folder yet: nothing to check.")
        return ExitCode.OK
    signed_in = verifier_cli.sign_in(tablet, args,
                                     renews_lease=args.command in ("sync", "enrol"))
    if isinstance(signed_in, int):
        return signed_in
    registry, session = signed_in
    paths = session.paths
    if args.command == "doctor":
        return _doctor(paths, session.vault, move_aside=args.move_damaged_database_aside,
                       restart=args.restart)
    if args.command == "demo-data":
        return _demo_data(paths, session.vault, args)
    if args.command == "sync":
        from kycdesk.sync.credentials import VerifierCredential
        from kycdesk.sync.headless import run_headless_sync
        from kycdesk.sync.tablet_hooks import hooks_for, office_identity_of

        _app = _qt_app(gui=False)  # kept alive: QtSql wants an application
        # A proven revocation wipes the tablet once the run has closed the store.
        return run_headless_sync(paths, session.vault, server=args.server, token=args.token,
                                 kept=VerifierCredential(registry, session),
                                 office=office_identity_of(registry, session),
                                 hooks=hooks_for(registry, session),
                                 ignore_backoff=args.now, ca_bundle=args.ca_bundle,
                                 until_done=args.until_done, deadline_s=args.deadline,
                                 parallel=max(1, args.parallel),
                                 stall_s=max(5.0, args.stall_timeout))
    if args.command == "enrol":
        from kycdesk.sync.enrolment import run_enrol

        return run_enrol(args.server, args.code, registry=registry, session=session,
                         name=args.name, ca_bundle=args.ca_bundle)
    if args.command == "case":
        _app = _qt_app(gui=False)  # kept alive: QtSql wants an application
        return case_cli.run(paths, session.vault, args)
    raise AssertionError(args.command)


def _qt_app(gui: bool) -> object:
    if gui:
        from PySide6.QtGui import QGuiApplication

        return QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    from PySide6.QtCore import QCoreApplication

    return QCoreApplication.instance() or QCoreApplication(sys.argv[:1])


def _doctor(paths: DataPaths, vault: Vault, *, move_aside: bool,
            restart: bool = False) -> int:
    from kycdesk.core.errors import DatabaseCorruptError, StoreError
    from kycdesk.persistence.lock import DataDirLock
    from kycdesk.persistence.store import LocalStore

    app = _qt_app(gui=False)  # noqa: F841  (QLockFile/QtSql want an application)
    print(f"kycdesk doctor — data folder {paths.root}")
    if not paths.database.exists():
        print("There is no kycdesk database in this folder yet: nothing to check.")
        return ExitCode.OK
    lock = DataDirLock(paths.lock_file)
    try:
        lock.acquire()
    except StoreError as exc:
        print(exc)
        return ExitCode.STORE_UNUSABLE
    try:
        try:
            store = LocalStore(paths, vault=vault)
        except DatabaseCorruptError as exc:
            print(f"DATABASE DAMAGED: {exc}")
            if move_aside:
                return _move_database_aside(paths)
            print(_CORRUPT_HELP.format(db=paths.database))
            return ExitCode.STORE_UNUSABLE
        except StoreError as exc:
            print(f"The store cannot be opened: {exc}")
            return ExitCode.STORE_UNUSABLE
        with store:
            _doctor_resumes(paths, restart)
            started = time.monotonic()

            def progress(done: int, total: int, photos: int) -> None:
                elapsed = time.monotonic() - started
                share = done / total if total else 1.0
                left = f", about {elapsed / share * (1 - share) / 60:.0f} min left" \
                    if 0.02 < share < 1 else ""
                print(f"checked {done:,} of {total:,} cases ({share:.0%}), {photos:,} photos "
                      f"hashed{left}", flush=True)

            first = store.recover()
            report = store.check(restart=restart, progress=progress)
            report.include_repairs(first)
        for line in report.lines():
            print(line)
        return ExitCode.PROBLEMS if report.has_problems else ExitCode.OK
    finally:
        lock.release()


def _doctor_resumes(paths: DataPaths, restart: bool) -> None:
    from kycdesk.persistence.full_check import load_state

    state = load_state(paths)
    if not restart and state is not None and state.mode == "doctor" \
            and state.finished_at is None:
        print(f"continuing the check started at {state.started_at} "
              f"({state.cases_checked:,} cases already checked; --restart starts over)")


_CORRUPT_HELP = """\
The file {db} was left exactly as it was. Your options:
  1. Restore it from a backup, if your organisation keeps one.
  2. Keep a copy for IT: they can often recover most rows with `sqlite3 {db} .recover`.
  3. Run `kycdesk doctor --move-damaged-database-aside`: the file is renamed (not deleted)
     and kycdesk starts with a new, empty database. Photos stay in the case folders."""


def _move_database_aside(paths: DataPaths) -> int:
    stamp = file_stamp()
    moved = []
    for suffix in ("", "-wal", "-shm"):
        src = paths.database.with_name(paths.database.name + suffix)
        if src.exists():
            dst = src.with_name(f"{paths.database.name}.damaged-{stamp}{suffix}")
            src.rename(dst)
            moved.append(dst)
    for dst in moved:
        print(f"moved aside: {dst}")
    print("kycdesk will create a new database on the next start.")
    return ExitCode.OK


def _demo_data(paths: DataPaths, vault: Vault, args: argparse.Namespace) -> int:
    from kycdesk.core.errors import StoreError
    from kycdesk.demo import generate
    from kycdesk.persistence.lock import DataDirLock
    from kycdesk.persistence.store import LocalStore

    try:
        width, height = (int(v) for v in args.image_size.lower().split("x"))
    except ValueError:
        print(f"--image-size must look like 1600x1200, not {args.image_size!r}")
        return ExitCode.PROBLEMS
    app = _qt_app(gui=True)  # noqa: F841  (keep the application alive while we draw)

    def progress(done: int, total: int) -> None:
        print(f"\rcases {done}/{total}", end="", flush=True)

    try:
        paths.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        with (DataDirLock(paths.lock_file),
              LocalStore(paths, vault=vault) as store):
            result = generate(store, cases=args.cases, images_per_case=args.images_per_case,
                              status=args.status, seed=args.seed, image_size=(width, height),
                              progress=progress)
    except (StoreError, OSError) as exc:
        print(f"\nDemo data could not be created: {exc}")
        return ExitCode.STORE_UNUSABLE
    print(f"\ncreated {len(result.case_ids)} cases with {result.images} photos in {paths.root}")
    return ExitCode.OK
