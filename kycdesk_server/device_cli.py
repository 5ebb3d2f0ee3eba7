"""`kycdesk-server devices|device …|revoke|org-key …`: the administrator's acts on
tablets at the shell (the same service and audit rows as the office's devices page).

    device list                                  every device, its tablet and state
    device revoke NAME [--whole-tablet]          stops it (and wipes it at its next call)
    device code NAME --purpose lease|pin-release today's supervisor code (UTC)
    device release NAME                          release a wrong-PIN lockout via the tablet
    org-key set FILE | show                      the organisation's recovery public key

NAME is a device id, or a device's or verifier's name when only one device has it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kycdesk.core.office_codes import PURPOSES
from kycdesk_server import org_key
from kycdesk_server.backoffice.audit import AuditLog
from kycdesk_server.backoffice.device_admin import DeviceAdmin
from kycdesk_server.backoffice.review import ReviewError
from kycdesk_server.backoffice.user_cli import CLI_ADDRESS
from kycdesk_server.devices import Device, DeviceRegistry
from kycdesk_server.storage import ServerStore


def add_device_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    device = sub.add_parser("device", parents=[common],
                            help="tablets: list, revoke, supervisor codes, PIN releases")
    acts = device.add_subparsers(dest="act", required=True, metavar="ACT")
    acts.add_parser("list", help="every device with its tablet, verifier and state")
    revoke = acts.add_parser("revoke", help="revoke a device: its next call is refused "
                                            "and it wipes what it holds")
    revoke.add_argument("name", help="the device's id, or its (verifier's) name")
    revoke.add_argument("--whole-tablet", action="store_true",
                        help="every device (verifier) of its tablet, and any enrolled "
                             "from that tablet later")
    code = acts.add_parser("code", help="today's supervisor code for a device (UTC date)")
    code.add_argument("name", help="the device's id, or its (verifier's) name")
    code.add_argument("--purpose", required=True, choices=PURPOSES,
                      help="lease: extend the offline lease; pin-release: clear a "
                           "wrong-PIN lockout")
    release = acts.add_parser("release", help="clear a device's wrong-PIN lockout at the "
                                              "next sync of another verifier of its tablet")
    release.add_argument("name", help="the device's id, or its (verifier's) name")
    key = sub.add_parser("org-key", parents=[common],
                         help="the organisation's recovery public key given to tablets")
    key_acts = key.add_subparsers(dest="act", required=True, metavar="ACT")
    key_set = key_acts.add_parser("set", help="set it from a file (PEM public key, or "
                                              "the 32 bytes, their base64 or hex)")
    key_set.add_argument("file", type=Path)
    key_acts.add_parser("show", help="print its fingerprint (compare it with the tablets')")


def _state(device: Device) -> str:
    if device.revoked_at:
        return f"revoked {device.revoked_at}"
    if device.tablet_revoked_at:
        return f"revoked {device.tablet_revoked_at} (tablet)"
    return "active"


def _one(registry: DeviceRegistry, name: str) -> Device | None:
    found = registry.find(name)
    if len(found) == 1:
        return found[0]
    if not found:
        print(f"kycdesk-server: no device {name}", file=sys.stderr)
    else:
        print(f"kycdesk-server: {len(found)} devices are called {name}; name one by its "
              f"id: {', '.join(d.id for d in found)}", file=sys.stderr)
    return None


def device_command(args: argparse.Namespace, store: ServerStore,
                   registry: DeviceRegistry) -> int:
    admin = DeviceAdmin(registry, AuditLog(store.db))
    act = getattr(args, "act", None)
    try:
        if args.command == "devices" or (args.command == "device" and act == "list"):
            for d in registry.list():
                print(f"{d.id}  {_state(d):42}  enrolled {d.enrolled_at}  {d.name}"
                      + (f"  verifier {d.verifier_name}" if d.verifier_name else "")
                      + (f"  tablet {d.tablet_id}" if d.tablet_id else ""))
            return 0
        if args.command == "org-key":
            return _org_key(args, store, registry)
        device = _one(registry, args.device_id if args.command == "revoke" else args.name)
        if device is None:
            return 1
        if args.command == "revoke" or act == "revoke":
            done = admin.revoke(None, device.id, whole_tablet=args.whole_tablet,
                                address=CLI_ADDRESS)
            if args.whole_tablet and device.tablet_id is not None:
                print(f"tablet {device.tablet_id}: {len(done)} device(s) newly revoked"
                      + (f" ({', '.join(done)})" if done else ""))
            else:
                if args.whole_tablet:
                    print("(this device names no tablet: only it is revoked)")
                print(f"{device.id} {'revoked' if done else 'was already revoked'}")
        elif act == "code":
            print(admin.code(None, device.id, args.purpose, address=CLI_ADDRESS))
        elif act == "release":
            admin.release(None, device.id, address=CLI_ADDRESS)
            print(f"{device.id}: released at the next sync of another verifier of tablet "
                  f"{device.tablet_id}")
    except ReviewError as exc:
        print(f"kycdesk-server: {exc.detail}", file=sys.stderr)
        return 1
    return 0


def _org_key(args: argparse.Namespace, store: ServerStore, registry: DeviceRegistry) -> int:
    if args.act == "show":
        value = registry.setting(org_key.SETTING)
        if value is None:
            print("No organisation recovery key is set: tablets enrol without one "
                  "(`kycdesk-server org-key set FILE`).")
            return 0
        print(f"fingerprint {org_key.fingerprint(org_key.decode(value))}")
        print(f"public key  {value}")
        return 0
    try:
        public = org_key.parse_public_key(args.file.read_bytes())
    except OSError as exc:
        print(f"kycdesk-server: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 1
    except org_key.OrgKeyError as exc:
        print(f"kycdesk-server: {exc}", file=sys.stderr)
        return 1
    audit = AuditLog(store.db)
    with store.db.transaction():
        registry.set_setting(org_key.SETTING, org_key.encode(public),
                             by="administrator (command line)")
        audit.record("org_key.set", actor=None, address=CLI_ADDRESS,
                     object_type="setting", object_id=org_key.SETTING,
                     detail={"fingerprint": org_key.fingerprint(public)})
    print(f"Set. fingerprint {org_key.fingerprint(public)}")
    print("Tablets enrolled from now on wrap their keys to it; tablets already enrolled "
          "get it when they enrol again.")
    return 0
