"""`kycdesk-server reason-codes list|set|disable`: the reasons a reviewer may give for a
rejection (the configurable list; codes are kept for past decisions, only disabled)."""

from __future__ import annotations

import argparse
import sys
from typing import TextIO

from kycdesk_server.backoffice.review import ReviewError
from kycdesk_server.backoffice.services import OfficeServices
from kycdesk_server.backoffice.user_cli import CLI_ADDRESS
from kycdesk_server.storage import ServerStore


def add_reason_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                      common: argparse.ArgumentParser) -> None:
    reasons = sub.add_parser("reason-codes", help="the reasons a rejection may give")
    actions = reasons.add_subparsers(dest="reason_command", required=True,
                                     metavar="ACTION")
    actions.add_parser("list", parents=[common], help="every code, active or not")
    add = actions.add_parser("set", parents=[common], help="add a code or relabel one")
    add.add_argument("code", help="a-z, 0-9 and _ (what the export carries)")
    add.add_argument("label", help="what reviewers read")
    actions.add_parser("disable", parents=[common], help="no longer offered"
                       ).add_argument("code")


def reason_command(args: argparse.Namespace, store: ServerStore, *,
                   out: TextIO = sys.stdout) -> int:
    review = OfficeServices.open(store).review
    try:
        if args.reason_command == "set":
            review.set_reason_code(args.code, args.label, address=CLI_ADDRESS)
            print(f"{args.code} set", file=out)
        elif args.reason_command == "disable":
            if not review.disable_reason_code(args.code, address=CLI_ADDRESS):
                print(f"kycdesk-server: no reason code {args.code}", file=sys.stderr)
                return 1
            print(f"{args.code} disabled", file=out)
        else:
            active = {c.code for c in review.reason_codes()}
            for code in review.reason_codes(include_disabled=True):
                state = "active" if code.code in active else "disabled"
                print(f"{code.code:24} {state:9} {code.label}", file=out)
    except ReviewError as refused:
        print(f"kycdesk-server: {refused.detail}", file=sys.stderr)
        return 1
    return 0
