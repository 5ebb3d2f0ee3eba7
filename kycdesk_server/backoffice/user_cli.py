"""`kycdesk-server user add|disable|reset-password|set-role|list|totp`: back-office
accounts from the server's shell; `kycdesk-server audit [--after ID]`: the audit as JSON
lines. Passwords come from a prompt (typed twice) or, for
scripts, one line on standard input with --password-stdin; never from the command line
(it would sit in the shell history and in every process listing)."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import sys
from typing import TextIO

from kycdesk_server.backoffice.accounts import AccountError
from kycdesk_server.backoffice.identity import ROLES
from kycdesk_server.backoffice.services import OfficeServices
from kycdesk_server.storage import ServerStore

CLI_ADDRESS = "cli"  # where an account change made at the shell comes from, in the audit


def add_user_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                    common: argparse.ArgumentParser) -> None:
    user = sub.add_parser("user", help="back-office accounts (reviewers, supervisors, "
                                       "admins)")
    actions = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    password = argparse.ArgumentParser(add_help=False)
    password.add_argument("--password-stdin", action="store_true",
                          help="read the password from the first line of standard input "
                               "(scripts) instead of a prompt")
    add = actions.add_parser("add", parents=[common, password], help="add an account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES)
    actions.add_parser("disable", parents=[common],
                       help="disable an account (its sessions end at once)"
                       ).add_argument("username")
    actions.add_parser("reset-password", parents=[common, password],
                       help="set a new password (the account's sessions end)"
                       ).add_argument("username")
    role = actions.add_parser("set-role", parents=[common], help="change an account's role")
    role.add_argument("username")
    role.add_argument("--role", required=True, choices=ROLES)
    actions.add_parser("list", parents=[common], help="list accounts")
    actions.add_parser("totp", parents=[common],
                       help="issue a new TOTP secret for an account (printed once; "
                            "required from its next sign-in)").add_argument("username")


def add_audit_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                     common: argparse.ArgumentParser) -> None:
    audit = sub.add_parser("audit", parents=[common],
                           help="print the back office's audit as JSON lines, oldest first "
                                "(to ship it to write-once storage)")
    audit.add_argument("--after", default="", metavar="ID",
                       help="only entries after this id (the last one shipped)")


def audit_command(args: argparse.Namespace, store: ServerStore, *,
                  out: TextIO = sys.stdout) -> int:
    audit = OfficeServices.open(store).audit
    last = args.after
    while batch := audit.after(last):
        for entry in batch:
            print(json.dumps(dataclasses.asdict(entry), sort_keys=True), file=out)
        last = batch[-1].id
    return 0


def _password(args: argparse.Namespace, stdin: TextIO) -> str:
    if args.password_stdin:
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass("New password: ")
    if getpass.getpass("The same again: ") != first:
        raise AccountError("The two passwords differ; nothing was changed.")
    return first


def user_command(args: argparse.Namespace, store: ServerStore, *,
                 stdin: TextIO = sys.stdin, out: TextIO = sys.stdout) -> int:
    accounts = OfficeServices.open(store).accounts
    try:
        if args.user_command == "add":
            account = accounts.add(args.username, args.role, _password(args, stdin),
                                   by=None, address=CLI_ADDRESS)
            print(f"{account.username} added ({account.role})", file=out)
            if account.role == "admin":
                print("an admin enrols a TOTP app at first sign-in (or now: "
                      f"`kycdesk-server user totp {account.username}`)", file=out)
        elif args.user_command == "disable":
            done = accounts.disable(args.username, by=None, address=CLI_ADDRESS)
            print(f"{args.username} {'disabled' if done else 'was already disabled'}",
                  file=out)
        elif args.user_command == "reset-password":
            accounts.reset_password(args.username, _password(args, stdin), by=None,
                                    address=CLI_ADDRESS)
            print(f"{args.username}: password changed; its sessions ended", file=out)
        elif args.user_command == "set-role":
            accounts.set_role(args.username, args.role, by=None, address=CLI_ADDRESS)
            print(f"{args.username} is now {args.role}", file=out)
        elif args.user_command == "list":
            for account in accounts.list():
                state = f"disabled {account.disabled_at}" if account.disabled_at \
                    else "active"
                factor = "totp" if account.totp_enrolled else "no-totp"
                print(f"{account.username:24} {account.role:10} {factor:8} {state:32} "
                      f"created {account.created_at}", file=out)
        elif args.user_command == "totp":
            found = accounts.find(args.username)
            if found is None:
                raise AccountError(f"There is no account {args.username!r}.")
            enrolment = accounts.start_totp(found.id, by=None, address=CLI_ADDRESS,
                                            confirmed=True)
            print(f"secret {enrolment.secret_text}\n{enrolment.uri}", file=out)
    except AccountError as exc:
        print(f"kycdesk-server: {exc}", file=sys.stderr)
        return 1
    return 0
