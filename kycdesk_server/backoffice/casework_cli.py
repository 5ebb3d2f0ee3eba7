"""`kycdesk-server case assign|handover|withdraw` and `kycdesk-server forms publish|list`:
the office's two-way acts for scripts, through the same services (and audit rows) as the
pages. `--as USERNAME` names the supervisor (or admin) account the act is recorded under:
the shell has no session, the audit still says who."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from kycdesk_server.backoffice.assignments import NewAssignment
from kycdesk_server.backoffice.identity import Reviewer
from kycdesk_server.backoffice.review import ReviewError
from kycdesk_server.backoffice.services import OfficeServices
from kycdesk_server.backoffice.user_cli import CLI_ADDRESS
from kycdesk_server.storage import ServerStore


def add_casework_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                         common: argparse.ArgumentParser) -> None:
    acting = argparse.ArgumentParser(add_help=False)
    acting.add_argument("--as", dest="actor", required=True, metavar="USERNAME",
                        help="the supervisor or admin account the act is recorded under")
    case = sub.add_parser("case", help="cases for tablets: assign, hand over, withdraw")
    actions = case.add_subparsers(dest="case_command", required=True, metavar="ACTION")
    assign = actions.add_parser("assign", parents=[common, acting],
                                help="create a case for a tablet (prints its id)")
    assign.add_argument("--reference", required=True)
    assign.add_argument("--applicant", required=True, help="the applicant's name")
    assign.add_argument("--device", required=True, help="the tablet's name or id")
    assign.add_argument("--form", default="individual_kyc", help="the form's id")
    assign.add_argument("--form-version", required=True)
    assign.add_argument("--address", default="")
    assign.add_argument("--due", help="due date, YYYY-MM-DD")
    assign.add_argument("--prefill", type=Path, metavar="JSON",
                        help="a JSON file of answers by field key")
    assign.add_argument("--note", default="")
    handover = actions.add_parser("handover", parents=[common, acting],
                                  help="hand a case to another tablet")
    handover.add_argument("case_id")
    handover.add_argument("--to", required=True, help="the tablet's name or id")
    handover.add_argument("--force", action="store_true",
                          help="now, without waiting for the old tablet: what it has not "
                               "sent can then no longer reach the server")
    handover.add_argument("--note", default="")
    withdraw = actions.add_parser("withdraw", parents=[common, acting],
                                  help="withdraw an assignment nothing was submitted for")
    withdraw.add_argument("case_id")
    withdraw.add_argument("--note", default="")
    actions.add_parser("assignments", parents=[common], help="list assignments")
    forms = sub.add_parser("forms", help="form versions published to the tablets")
    form_actions = forms.add_subparsers(dest="forms_command", required=True,
                                        metavar="ACTION")
    publish = form_actions.add_parser("publish", parents=[common, acting],
                                      help="check a form definition and publish it")
    publish.add_argument("file", type=Path, help="the form definition (JSON)")
    publish.add_argument("--sha256", help="refuse unless the definition hashes to this")
    form_actions.add_parser("list", parents=[common], help="published form versions")


def _actor(office: OfficeServices, username: str) -> Reviewer:
    account = office.accounts.find(username)
    if account is None or account.disabled_at is not None:
        raise ReviewError(f"No active account {username!r}.")
    return account.reviewer()


def casework_command(args: argparse.Namespace, store: ServerStore, *,
                     out: TextIO = sys.stdout) -> int:
    office = OfficeServices.open(store)
    try:
        if args.command == "forms":
            if args.forms_command == "list":
                for form in office.forms.published():
                    print(f"{form.form_id} {form.version}  sha256 {form.sha256}  by "
                          f"{form.published_by} at {form.published_at}", file=out)
                return 0
            try:
                raw = args.file.read_bytes()
            except OSError as exc:
                print(f"kycdesk-server: cannot read {args.file}: {exc.strerror}",
                      file=sys.stderr)
                return 1
            published = office.forms.publish(_actor(office, args.actor), raw,
                                             expected_sha256=args.sha256,
                                             address=CLI_ADDRESS)
            print(f"{published.form_id} version {published.version} published "
                  f"(sha256 {published.sha256})", file=out)
        elif args.case_command == "assignments":
            for row in office.assignments.list():
                print(f"{row.case_id}  {row.status_label:22} {row.device_name:20} "
                      f"due {row.due_date or '-'}", file=out)
        elif args.case_command == "assign":
            prefill = {}
            if args.prefill is not None:
                try:
                    prefill = json.loads(args.prefill.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    print(f"kycdesk-server: cannot read the answers in {args.prefill}: "
                          f"{exc}", file=sys.stderr)
                    return 1
                if not isinstance(prefill, dict):
                    print("kycdesk-server: the answers file is a JSON object of answers "
                          "by field key", file=sys.stderr)
                    return 1
            case_id = office.assignments.create(_actor(office, args.actor), NewAssignment(
                reference=args.reference, applicant_name=args.applicant,
                device_name=args.device, form_id=args.form, form_version=args.form_version,
                address=args.address, due_date=args.due, prefill=prefill, note=args.note),
                address=CLI_ADDRESS)
            print(case_id, file=out)
        elif args.case_command == "handover":
            office.handovers.hand_over(_actor(office, args.actor), args.case_id, args.to,
                                       force=args.force, note=args.note,
                                       address=CLI_ADDRESS)
            print(f"{args.case_id} handed over" if args.force else
                  f"{args.case_id}: the old tablet sends what it has, then lets it go",
                  file=out)
        elif args.case_command == "withdraw":
            office.assignments.withdraw(_actor(office, args.actor), args.case_id,
                                        note=args.note, address=CLI_ADDRESS)
            print(f"{args.case_id} withdrawn", file=out)
    except ReviewError as refused:
        print(f"kycdesk-server: {refused.detail}", file=sys.stderr)
        return 1
    return 0
