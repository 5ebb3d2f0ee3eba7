"""`kycdesk user …` (the tablet's verifiers) and the sign-in every command that opens a
store goes through (`--user NAME --pin-stdin`).

No command opens a store without its verifier's PIN: the store is encrypted under their
keys. Scripts and tests give the PIN on standard input (`--pin-stdin`: one line; two for
`user passwd`, old then new), never as an argument (it would show in the process list
and the shell history). Without `--pin-stdin` the PIN is asked for at the terminal.
Without `--user`, a tablet with exactly one verifier uses that one.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from kycdesk.exit_codes import ExitCode
from kycdesk.paths import TabletPaths
from kycdesk.verifiers.errors import (
    LeaseExpiredError,
    PinRuleError,
    VerifierError,
)
from kycdesk.verifiers.lockout import unsynced_cases
from kycdesk.verifiers.pin_rules import PinPolicy, rules_text
from kycdesk.verifiers.registry import Registry, RegistryDamagedError, VerifierInfo
from kycdesk.verifiers.session import Session


def add_common_options(common: argparse.ArgumentParser) -> None:
    common.add_argument("--user", metavar="NAME", default=argparse.SUPPRESS,
                        help="the verifier whose cases to use (default: the only one)")
    common.add_argument("--pin-stdin", action="store_true", default=argparse.SUPPRESS,
                        help="read the verifier's PIN from standard input (one line)")


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    user = sub.add_parser("user", parents=[common],
                          help="the verifiers of this tablet: add, list, passwd, remove")
    verbs = user.add_subparsers(dest="user_command", metavar="ACTION", required=True)
    add = verbs.add_parser("add", parents=[common],
                           help="a new verifier, with their own PIN and encrypted cases")
    add.add_argument("name", help="the name shown at sign-in (first name or initials)")
    listing = verbs.add_parser("list", parents=[common], help="the verifiers")
    listing.add_argument("--json", action="store_true", help="print JSON")
    passwd = verbs.add_parser("passwd", parents=[common],
                              help="change a verifier's PIN (--pin-stdin: old, then new)")
    passwd.add_argument("name", help="the verifier")
    remove = verbs.add_parser("remove", parents=[common],
                              help="remove a verifier and wipe their cases from this tablet")
    remove.add_argument("name", help="the verifier")
    remove.add_argument("--force", action="store_true",
                        help="also when some of their cases are not on the server yet "
                             "(those are lost)")
    recover = verbs.add_parser(
        "recover", parents=[common],
        help="at the office, offline: give a verifier who forgot their PIN a new one with "
             "the organisation's recovery private key (--pin-stdin: the new PIN)")
    recover.add_argument("name", help="the verifier")
    recover.add_argument("--org-key", required=True, metavar="FILE",
                         help="the organisation's X25519 private key (PEM, unencrypted; "
                              "bring it on removable media and take it away after)")
    policy = verbs.add_parser("policy", parents=[common],
                              help="the organisation's PIN rules on this tablet")
    policy.add_argument("--numeric-pin", choices=["allow", "refuse"],
                        help="allow PINs of 6+ digits (weaker against a copied disk: "
                             "docs/security.md) or refuse them (the default)")
    policy.add_argument("--max-failures", type=int, metavar="N",
                        help="wrong PINs before the lockout (3-100, default 10)")


class _RefusedError(Exception):
    """A sentence for stderr and the exit code."""

    def __init__(self, message: str, code: int = ExitCode.AUTH) -> None:
        super().__init__(message)
        self.code = code


def _pin_lines(args: argparse.Namespace, prompts: list[str]) -> list[str]:
    if getattr(args, "pin_stdin", False):
        lines = []
        for _ in prompts:
            line = sys.stdin.readline()
            if not line:
                raise _RefusedError("--pin-stdin: standard input ended before the PIN "
                               f"({len(prompts)} line(s) expected).")
            lines.append(line.rstrip("\r\n"))
        return lines
    if not sys.stdin.isatty():
        raise _RefusedError("No terminal to ask the PIN at: give it with --pin-stdin.")
    return [getpass.getpass(prompt) for prompt in prompts]


def _open_registry(tablet: TabletPaths) -> Registry:
    try:
        return Registry.open(tablet)
    except RegistryDamagedError as exc:
        raise _RefusedError(str(exc), ExitCode.STORE_UNUSABLE) from exc
    except OSError as exc:
        raise _RefusedError(f"The data folder {tablet.root} cannot be used ({exc.strerror}).",
                       ExitCode.STORE_UNUSABLE) from exc


def _chosen(registry: Registry, name: str | None) -> VerifierInfo:
    if name is not None:
        found = registry.find(name)
        if found is None:
            raise _RefusedError(f"There is no verifier called {name} on this tablet "
                           "(`kycdesk user list`).")
        return found
    everyone = registry.verifiers()
    if not everyone:
        raise _RefusedError("There is no verifier on this tablet yet: add one first with "
                       "`kycdesk user add NAME --pin-stdin`.")
    if len(everyone) > 1:
        names = ", ".join(v.name for v in everyone)
        raise _RefusedError(f"This tablet has several verifiers ({names}): say which with "
                       "--user NAME.")
    return everyone[0]


def sign_in(tablet: TabletPaths, args: argparse.Namespace, err: TextIO | None = None, *,
            renews_lease: bool = False) -> tuple[Registry, Session] | int:
    """The verifier a store command works for, signed in; or the exit code after saying
    why not on stderr. `renews_lease`: the command reaches the server (sync, enrol), the
    one way besides a supervisor's code to renew a lease that ran out."""
    err = err or sys.stderr
    try:
        registry = _open_registry(tablet)
        verifier = _chosen(registry, getattr(args, "user", None))
        (pin,) = _pin_lines(args, [f"PIN for {verifier.name}: "])
        session = registry.sign_in(verifier.verifier_id, pin)
        _finish_legacy_migration(tablet, session, err)
        return registry, session
    except LeaseExpiredError as exc:
        if renews_lease:
            print(f"note: {exc}", file=err)
            return registry, exc.session
        print(f"error: {exc}", file=err)
        return ExitCode.AUTH
    except VerifierError as exc:
        print(f"error: {exc}", file=err)
        return ExitCode.AUTH
    except _RefusedError as exc:
        print(f"error: {exc}", file=err)
        return exc.code


def _finish_legacy_migration(tablet: TabletPaths, session: Session, err: TextIO) -> None:
    """The cases from before sign-in (a clear store at the data root) become the first
    signing-in verifier's, encrypted (verifiers/migration.py), before their store opens;
    its progress goes to stderr (stdout stays the command's output). Imported here: the
    migration loads the store (Qt's SQL), and `kycdesk --help` or `user list` need not."""
    from kycdesk.verifiers.migration import (
        MigrationProgress,
        MigrationRefusedError,
        Phase,
        migrate_for_session,
    )

    shown: set[str] = set()

    def progress(step: MigrationProgress) -> None:
        if step.phase is Phase.SEALING or step.message not in shown:
            shown.add(step.message)
            print(step.message, file=err, flush=True)

    try:
        migrate_for_session(tablet, session, progress=progress)
    except MigrationRefusedError as exc:
        raise _RefusedError(str(exc), ExitCode.STORE_UNUSABLE) from exc


def run(tablet: TabletPaths, args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    try:
        registry = _open_registry(tablet)
        command = args.user_command
        if command == "add":
            return _add(registry, args, out)
        if command == "list":
            return _list(registry, args, out)
        if command == "passwd":
            return _passwd(registry, args, out)
        if command == "remove":
            return _remove(registry, args, out)
        if command == "policy":
            return _policy(registry, args, out)
        if command == "recover":
            return _recover(registry, args, out)
        raise AssertionError(command)
    except _RefusedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.code
    except VerifierError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.PROBLEMS if isinstance(exc, PinRuleError) else ExitCode.AUTH


def _add(registry: Registry, args: argparse.Namespace, out: TextIO) -> int:
    if getattr(args, "pin_stdin", False):
        (pin,) = _pin_lines(args, ["PIN: "])
    else:
        print(rules_text(registry.policy), file=out)
        pin, again = _pin_lines(args, ["New PIN: ", "Again: "])
        if pin != again:
            raise _RefusedError("The two PINs differ: nothing was changed.", ExitCode.PROBLEMS)
    try:
        session = registry.add(args.name, pin)
    except PinRuleError as exc:
        print(f"error: {exc}\n{rules_text(registry.policy)}", file=sys.stderr)
        return ExitCode.PROBLEMS
    print(f"added {session.name}", file=out)
    return ExitCode.OK


def _list(registry: Registry, args: argparse.Namespace, out: TextIO) -> int:
    everyone = registry.verifiers()
    if args.json:
        print(json.dumps([{"name": v.name, "id": v.verifier_id, "enrolled": v.enrolled,
                           "locked": v.locked, "wrong_pins": v.failures}
                          for v in everyone], indent=1, ensure_ascii=False), file=out)
        return ExitCode.OK
    if not everyone:
        print("No verifier yet: `kycdesk user add NAME --pin-stdin`.", file=out)
    for v in everyone:
        state = {None: "", "wrong-pin": " · locked (wrong PINs)",
                 "lease": " · locked (not in touch with the office)"}[v.locked]
        wrong = f" · {v.failures} wrong PIN(s)" if v.failures and not v.locked else ""
        enrolled = "enrolled" if v.enrolled else "not enrolled"
        print(f"{v.name} · {enrolled}{state}{wrong}", file=out)
    return ExitCode.OK


def _passwd(registry: Registry, args: argparse.Namespace, out: TextIO) -> int:
    verifier = _chosen(registry, args.name)
    old, new = _pin_lines(args, ["Current PIN: ", "New PIN: "])
    if not getattr(args, "pin_stdin", False):
        (again,) = _pin_lines(args, ["New PIN again: "])
        if again != new:
            raise _RefusedError("The two new PINs differ: nothing was changed.",
                           ExitCode.PROBLEMS)
    try:
        session = registry.sign_in(verifier.verifier_id, old)
    except LeaseExpiredError as expired:
        session = expired.session
    registry.change_pin(session, old, new)
    print(f"the PIN of {verifier.name} was changed", file=out)
    return ExitCode.OK


def _recover(registry: Registry, args: argparse.Namespace, out: TextIO) -> int:
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from kycdesk.security.errors import SecurityError

    verifier = _chosen(registry, args.name)
    try:
        org_private = load_pem_private_key(Path(args.org_key).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise _RefusedError(f"The organisation key cannot be read ({exc}): nothing was "
                            "changed.", ExitCode.PROBLEMS) from exc
    if not isinstance(org_private, X25519PrivateKey):
        raise _RefusedError("That file is not an X25519 private key: nothing was changed.",
                            ExitCode.PROBLEMS)
    new, = _pin_lines(args, ["New PIN: "])
    if not getattr(args, "pin_stdin", False):
        (again,) = _pin_lines(args, ["New PIN again: "])
        if again != new:
            raise _RefusedError("The two new PINs differ: nothing was changed.",
                                ExitCode.PROBLEMS)
    try:
        registry.recover_with_org_key(verifier.verifier_id, org_private, new)
    except SecurityError as exc:
        raise _RefusedError(f"{exc} Nothing was changed.") from exc
    print(f"{verifier.name} has a new PIN; their cases are theirs again", file=out)
    return ExitCode.OK


def _remove(registry: Registry, args: argparse.Namespace, out: TextIO) -> int:
    verifier = _chosen(registry, args.name)
    waiting = unsynced_cases(registry.tablet.store(verifier.verifier_id))
    if waiting != 0 and not args.force:
        count = "some cases" if waiting is None else f"{waiting} case(s)"
        raise _RefusedError(f"{verifier.name} has {count} not yet on the server: sync them "
                       "first, or add --force to lose them.", ExitCode.PROBLEMS)
    registry.wipe_verifier(verifier.verifier_id)
    print(f"removed {verifier.name} and wiped their cases from this tablet", file=out)
    return ExitCode.OK


def _policy(registry: Registry, args: argparse.Namespace, out: TextIO) -> int:
    policy = registry.policy
    if args.numeric_pin is not None or args.max_failures is not None:
        failures = args.max_failures if args.max_failures is not None \
            else policy.max_failures
        if not 3 <= failures <= 100:
            raise _RefusedError("--max-failures is between 3 and 100.", ExitCode.PROBLEMS)
        numeric = policy.numeric_pin_allowed if args.numeric_pin is None \
            else args.numeric_pin == "allow"
        policy = PinPolicy(numeric_pin_allowed=numeric, max_failures=failures)
        registry.set_policy(policy)
    print(f"numeric PINs: {'allowed' if policy.numeric_pin_allowed else 'refused'}; "
          f"lockout after {policy.max_failures} wrong PINs", file=out)
    return ExitCode.OK
