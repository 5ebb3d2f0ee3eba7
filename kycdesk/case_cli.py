"""`kycdesk case …`: cases from the command line, for kiosk scripts, batch scanning and
support — new, attach, show, list, resolve, discard, and export/import of a self-contained
archive for manual transfer when a device has no network for weeks.

Every command takes the data folder's lock (the app must not be writing it) and writes
through the same commands the app uses. JSON output is documented in the README.

The archive (`kycdesk-case/1`) is a zip: `manifest.json` (the case, its form, and its
photos' facts with their SHA-256), the photos under `photos/`, and `manifest.sha256` (the
manifest's own SHA-256). Import verifies every hash before it changes anything and never
overwrites a newer local revision.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import sys
import unicodedata
import zipfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, TextIO

from kycdesk.core.case_archive import ARCHIVE_FORMAT, read_archive
from kycdesk.exit_codes import ExitCode
from kycdesk.paths import DataPaths, private_scratch_dir

if TYPE_CHECKING:  # the store loads QtSql: imported when a command runs, not at start
    from kycdesk.core.form_schema import FormDefinition
    from kycdesk.core.records import CaseSummary, ImageRecord
    from kycdesk.persistence.store import LocalStore
    from kycdesk.security.vault import Vault



# CaseView's values (core.states), spelled here so `--help` needs no import of the store.
LIST_VIEWS = ["assigned", "returned", "drafts", "waiting", "needs_action", "synced"]


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    case = sub.add_parser("case", parents=[common],
                          help="cases for scripts: new, attach, show, list, discard, export…")
    verbs = case.add_subparsers(dest="case_command", metavar="ACTION", required=True)
    new = verbs.add_parser("new", parents=[common], help="start a new draft case")
    new.add_argument("--json", action="store_true", help='print {"id": …} instead of the id')
    new.add_argument("--reference", help="the case's reference (default: generated)")
    attach = verbs.add_parser("attach", parents=[common], help="add photo files to a draft")
    attach.add_argument("case", help="the case id")
    attach.add_argument("files", nargs="+", type=Path, help="photo files (JPEG or PNG)")
    attach.add_argument("--slot", help="photo slot (default: the first with room for each)")
    show = verbs.add_parser("show", parents=[common], help="a case, its form and its photos")
    show.add_argument("case", help="the case id")
    show.add_argument("--json", action="store_true", help="print JSON (the only format)")
    listing = verbs.add_parser("list", parents=[common], help="the cases on this device")
    listing.add_argument("--status", choices=LIST_VIEWS,
                         help="only one view of the cases (assigned: assigned to you by the "
                              "office; returned: returned to you with comments)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    resolve_ = verbs.add_parser(
        "resolve", parents=[common],
        help="choose between the office's value and yours where both changed a case")
    resolve_.add_argument("case", help="the case id")
    resolve_.add_argument("--conflict", type=int, required=True,
                          help="which choice (its id in `case show --json`)")
    resolve_.add_argument("--keep", choices=["server", "local"], required=True,
                          help="server: the office's value; local: what this device has")
    discard = verbs.add_parser("discard", parents=[common],
                               help="remove a draft and its photos for good")
    discard.add_argument("case", help="the case id")
    export = verbs.add_parser("export", parents=[common],
                              help="write a case to a self-contained archive")
    export.add_argument("case", help="the case id")
    export.add_argument("-o", "--output", type=Path, required=True, help="the archive file")
    export.add_argument("--force", action="store_true",
                        help="replace the archive file if it exists (refused otherwise)")
    sealing = export.add_mutually_exclusive_group()
    sealing.add_argument("--passphrase-stdin", action="store_true",
                         help="seal the archive with a passphrase read from the next line "
                              "of stdin (after the PIN); without it one is asked for")
    sealing.add_argument("--clear", action="store_true",
                         help="write the archive in clear (for a system that cannot take a "
                              "sealed one): the applicant's data readable by anyone who "
                              "gets the file")
    importing = verbs.add_parser("import", parents=[common],
                                 help="bring a case archive onto this device")
    importing.add_argument("archive", type=Path, help="an archive made by `case export`")
    importing.add_argument("--passphrase-stdin", action="store_true",
                           help="a sealed archive's passphrase: the next line of stdin "
                                "(after the PIN); without it one is asked for")
    mrz = verbs.add_parser("mrz", parents=[common],
                           help="read an ID document's MRZ text and verify its check digits")
    mrz.add_argument("file", help="a text file with the MRZ lines (- for stdin), or a photo")
    mrz.add_argument("--json", action="store_true", help="print JSON")
    document = verbs.add_parser(
        "document", parents=[common],
        help="read an ID document's photo (MRZ, or a card back's PDF417 barcode)")
    document.add_argument("file", help="a photo of the document (JPEG, PNG)")
    document.add_argument("--json", action="store_true", help="print JSON")


# Actions that read a file, not the data folder: no store, no lock, no sign-in.
NO_STORE = frozenset({"mrz", "document"})


def run_without_store(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    if args.case_command == "mrz":
        from kycdesk.documents import mrz_command

        return mrz_command.run(args.file, args.json, out)
    from kycdesk.documents import document_command

    return document_command.run(args.file, args.json, out)


def run(paths: DataPaths, vault: Vault, args: argparse.Namespace,
        out: TextIO | None = None) -> int:
    """Results go to `out` (stdout); a refusal's sentence goes to stderr. `paths` is the
    signed-in verifier's store, `vault` their keys."""
    out = out or sys.stdout
    if args.case_command in NO_STORE:
        return run_without_store(args, out)
    from kycdesk.core.errors import StoreError
    from kycdesk.persistence.lock import DataDirLock
    from kycdesk.persistence.store import LocalStore

    try:
        paths.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = DataDirLock(paths.lock_file)
        lock.acquire()
    except OSError as exc:
        print(f"error: the data folder {paths.root} cannot be used ({exc.strerror})",
              file=sys.stderr)
        return ExitCode.STORE_UNUSABLE
    except StoreError as exc:  # the app (or another command) has the folder
        print(f"error: {exc}", file=sys.stderr)
        return ExitCode.STORE_UNUSABLE
    try:
        try:
            store = LocalStore(paths, vault=vault)
        except StoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return ExitCode.STORE_UNUSABLE
        try:
            return _dispatch(store, args, out)
        except StoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return ExitCode.PROBLEMS
        finally:
            store.close()
    finally:
        lock.release()


def _dispatch(store: LocalStore, args: argparse.Namespace, out: TextIO) -> int:
    command = args.case_command
    if command == "new":
        return _new(store, args, out)
    if command == "attach":
        return _attach(store, args, out)
    if command == "show":
        shown_case = {**_case_json(store, args.case), **_two_way_json(store, args.case)}
        print(json.dumps(shown_case, indent=1, ensure_ascii=False), file=out)
        return ExitCode.OK
    if command == "resolve":
        return _resolve(store, args, out)
    if command == "list":
        return _list(store, args, out)
    if command == "discard":
        from kycdesk.persistence.commands import DiscardDraft

        store.run(DiscardDraft(args.case))
        print(f"discarded {args.case}", file=out)
        return ExitCode.OK
    if command == "export":
        passphrase = None if args.clear else _archive_passphrase(args, confirm=True)
        if passphrase is None and not args.clear:
            return ExitCode.PROBLEMS
        return _export(store, args.case, args.output, out, force=args.force,
                       passphrase=passphrase)
    if command == "import":
        return _import(store, args.archive, out, args)
    raise AssertionError(args.case_command)


def _definition(form_id: str | None, version: str | None,
                store: LocalStore | None = None) -> FormDefinition:
    """The form a case uses: shipped, or pushed by the office (new cases: the newest)."""
    from kycdesk.models.form_registry import DEFAULT_FORM_ID, FormRegistry

    registry = (FormRegistry.load_with_pushed(store.pushed_forms()) if store is not None
                else FormRegistry.load())
    form_id = form_id or DEFAULT_FORM_ID
    if version and version in registry.versions(form_id):
        return registry.get(form_id, version)
    return registry.latest(form_id)


def _new(store: LocalStore, args: argparse.Namespace, out: TextIO) -> int:
    from kycdesk.app import new_reference
    from kycdesk.persistence.commands import CreateCase

    definition = _definition(None, None, store)
    case_id = store.run(CreateCase(reference_number=args.reference or new_reference(),
                                   form_id=definition.form_id,
                                   form_version=definition.version))
    print(json.dumps({"id": case_id}) if args.json else case_id, file=out)
    return ExitCode.OK


def _attach(store: LocalStore, args: argparse.Namespace, out: TextIO) -> int:
    from kycdesk.core.errors import StoreError
    from kycdesk.core.form_schema import FieldKind
    from kycdesk.persistence.commands import AddImage

    case = store.load_case(args.case)
    definition = _definition(case.form_id, case.form_version, store)
    slots = {f.slot: f for f in definition.fields() if f.kind is FieldKind.PHOTO}
    if args.slot is not None and args.slot not in slots:
        print(f"error: no photo slot {args.slot!r}; slots: {', '.join(slots)}", file=sys.stderr)
        return ExitCode.PROBLEMS
    counts: dict[str, int] = {}
    for image in store.list_images(case.id):
        counts[image.slot or ""] = counts.get(image.slot or "", 0) + 1
    refused = 0
    for path in args.files:
        slot = args.slot or next((s for s, f in slots.items()
                                  if counts.get(s, 0) < f.max_count), None)
        if slot is None or counts.get(slot, 0) >= slots[slot].max_count:
            print(f"rejected {shown(str(path))}: no photo slot has room", file=out)
            refused += 1
            continue
        try:
            image = store.run(AddImage(case.id, path, slot=slot,
                                       max_pixels=slots[slot].max_pixels))
        except StoreError as exc:
            print(f"rejected {shown(str(path))}: {shown(str(exc))}", file=out)
            refused += 1
            continue
        counts[slot] = counts.get(slot, 0) + 1
        print(f"accepted {shown(str(path))} -> {slot} ({image.width}x{image.height}, "
              f"sha256 {image.sha256})", file=out)
    return ExitCode.PROBLEMS if refused else ExitCode.OK


def shown(text: str) -> str:
    """`text` on one line: control characters (a newline in a file name) and the
    backslash written as escapes, so one line per file stays one line per file."""
    return "".join(_ESCAPES.get(c) or (_escape(c) if unicodedata.category(c) in _BREAKING
                                       else c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


_BREAKING = {"Cc", "Zl", "Zp"}  # controls, and the Unicode line and paragraph separators


_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _photo_json(image: ImageRecord) -> dict[str, Any]:
    return {"id": image.id, "client_image_id": image.client_image_id, "slot": image.slot,
            "width": image.width, "height": image.height, "sha256": image.sha256,
            "byte_size": image.byte_size, "mime": image.mime,
            "latitude": image.location.latitude, "longitude": image.location.longitude,
            "accuracy": image.location.accuracy, "address": image.location.address,
            "address_source": image.location.address_source,
            "captured_at": image.captured_at,
            "captured_at_source": image.captured_at_source, "source": image.source,
            "synced": image.synced, "server_image_id": image.server_image_id}


def _case_json(store: LocalStore, case_id: str,
               images: list[ImageRecord] | None = None) -> dict[str, Any]:
    case = store.load_case(case_id)
    images = store.list_images(case.id) if images is None else images
    return {"id": case.id, "reference_number": case.reference_number,
            "status": case.status, "revision": case.revision,
            "form_id": case.form_id, "form_version": case.form_version,
            "created_at": case.created_at, "last_saved": case.last_saved,
            "last_error": case.last_error, "purged_at": case.purged_at,
            "form": case.form, "photos": [_photo_json(i) for i in images]}


def _two_way_json(store: LocalStore, case_id: str) -> dict[str, Any]:
    """What the office said about the case (two-way sync), for `case show`."""
    from dataclasses import asdict

    state = store.read_two_way(case_id)
    assignment = None if state.assignment is None else {
        **asdict(state.assignment), "prefilled": sorted(state.assignment.prefilled)}
    return {"inbox": state.inbox,
            "assignment": assignment,
            "comments": [asdict(c) for c in state.comments],
            "decision": None if state.decision is None else asdict(state.decision),
            "conflicts": [asdict(c) for c in state.conflicts],
            "handover": state.handover, "handover_note": state.handover_note,
            "read_only_reason": state.locked_reason,
            "history": store.field_history(case_id)}


def _resolve(store: LocalStore, args: argparse.Namespace, out: TextIO) -> int:
    from kycdesk.persistence.commands import ResolveConflict

    open_ids = {c.id for c in store.read_two_way(args.case).conflicts}
    if args.conflict not in open_ids:
        print(f"error: case {args.case} has no open choice {args.conflict}"
              f"{' (open: ' + ', '.join(map(str, sorted(open_ids))) + ')' if open_ids else ''}",
              file=sys.stderr)
        return ExitCode.PROBLEMS
    store.run(ResolveConflict(args.conflict, args.keep))
    kept = "the office's value" if args.keep == "server" else "the value on this device"
    print(f"kept {kept} for case {args.case}", file=out)
    return ExitCode.OK


def _list(store: LocalStore, args: argparse.Namespace, out: TextIO) -> int:
    from kycdesk.core.records import CaseSort
    from kycdesk.core.states import CaseView

    view = CaseView(args.status) if args.status else None
    # Assigned cases: the soonest due first, as the app lists them.
    sort = CaseSort.DUE_DATE if view is CaseView.ASSIGNED else CaseSort.LAST_SAVED
    rows: list[CaseSummary] = []
    while page := store.list_cases(limit=500, after=rows[-1] if rows else None, view=view,
                                   sort=sort):
        rows += page
    if args.json:
        print(json.dumps([{"id": c.id, "reference_number": c.reference_number,
                           "status": c.status, "applicant_name": c.applicant_name,
                           "last_saved": c.last_saved, "photo_count": c.photo_count,
                           "last_error": c.last_error, "inbox": c.inbox,
                           "due_date": c.due_date} for c in rows],
                         indent=1, ensure_ascii=False), file=out)
    else:
        for c in rows:
            due = f"  due {c.due_date}" if c.due_date and c.inbox else ""
            print(f"{c.id}  {c.status:7}  {c.reference_number or '-'}  "
                  f"{c.applicant_name or ''}{due}", file=out)
    return ExitCode.OK


def _archive_passphrase(args: argparse.Namespace, *, confirm: bool) -> str | None:
    """A sealed archive's passphrase: the next stdin line, or asked at a terminal (twice
    for a new archive). None, said on stderr, when there is none to be had."""
    import getpass

    from kycdesk.security.sealed_archive import MIN_PASSPHRASE

    if args.passphrase_stdin:
        passphrase = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        passphrase = getpass.getpass("Archive passphrase: ")
        if confirm and getpass.getpass("Again: ") != passphrase:
            print("error: the two passphrases differ; nothing was written", file=sys.stderr)
            return None
    else:
        print("error: a case archive is sealed with a passphrase: give it with "
              "--passphrase-stdin (or write it in clear with --clear)", file=sys.stderr)
        return None
    if confirm and len(passphrase) < MIN_PASSPHRASE:
        print(f"error: the archive's passphrase must have at least {MIN_PASSPHRASE} "
              "characters; nothing was written", file=sys.stderr)
        return None
    return passphrase


def _export(store: LocalStore, case_id: str, output: Path, out: TextIO, *,
            force: bool, passphrase: str | None) -> int:
    from kycdesk.persistence.files import fsync_dir, rename_no_clobber

    if output.exists() and not force:
        print(f"error: {shown(str(output))} exists; nothing was written (--force replaces "
              "it)", file=sys.stderr)
        return ExitCode.PROBLEMS
    images = store.list_images(case_id)
    case = _case_json(store, case_id, images)
    record = store.load_sync_case(case_id)
    case["finalized_at"] = record.finalized_at
    tmp = output.with_name(f".{output.name}.tmp")
    try:
        count = _write_archive(store, case, images, tmp, passphrase)  # and fsynced
        if force:
            tmp.replace(output)
        else:  # a file that appeared meanwhile is not overwritten either
            rename_no_clobber(tmp, output)
        fsync_dir(output.parent)
    except _PhotoChangedError as exc:
        tmp.unlink(missing_ok=True)
        print(f"error: photo {exc} is missing or no longer matches its SHA-256; run "
              "'kycdesk doctor'", file=sys.stderr)
        return ExitCode.PROBLEMS
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        print(f"error: the archive could not be written to {output} ({exc.strerror or exc})",
              file=sys.stderr)
        return ExitCode.PROBLEMS
    from kycdesk.persistence.commands import AppendEvent

    # Sealed to a passphrase by default; in clear only when asked (docs/security.md
    # "Exports"), said plainly. Either way the act is in the case's audit trail.
    store.run(AppendEvent(case_id, "case_exported", {"photos": count,
                                                     "sealed": passphrase is not None}))
    print(f"exported {case_id} ({count} photo(s)) to {output}"
          + (", sealed with its passphrase" if passphrase is not None else ""), file=out)
    if passphrase is None:
        print("warning: the archive is NOT encrypted: it holds the applicant's answers and "
              "ID photos in clear. Keep it on encrypted media, hand it over in person, and "
              "delete it once it is imported.", file=sys.stderr)
    else:
        print("Give the passphrase to the receiver apart from the file (not in the same "
              "message or on the same stick).", file=sys.stderr)
    return ExitCode.OK


class _PhotoChangedError(Exception):
    pass


def _write_archive(store: LocalStore, case: dict[str, Any], images: list[ImageRecord],
                   tmp: Path, passphrase: str | None) -> int:
    """The zip is built in memory when it is to be sealed: no clear copy on disk."""
    if passphrase is None:
        return _write_zip(store, case, images, tmp)
    from kycdesk.security.sealed_archive import seal

    plain = io.BytesIO()
    count = _write_zip(store, case, images, plain)
    plain.seek(0)
    with _private_new(tmp) as fh:
        seal(plain, fh, passphrase)
        fh.flush()
        os.fsync(fh.fileno())  # the archive may be the only copy carried off the device
    return count


def _private_new(tmp: Path) -> BinaryIO:
    """The archive's temp file, owner-only from its first byte (not the umask's 0644),
    created new (a stale one from a crash is ours to replace)."""
    tmp.unlink(missing_ok=True)
    fh: BinaryIO = os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
    return fh


def _write_zip(store: LocalStore, case: dict[str, Any], images: list[ImageRecord],
               tmp: Path | io.BytesIO) -> int:
    from kycdesk.persistence.encrypted_files import (
        TamperedDataError,
        photo_context,
        read_decrypted,
    )

    photos = []
    opened = _private_new(tmp) if isinstance(tmp, Path) else contextlib.nullcontext(tmp)
    with opened as target, \
            zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        for image in images:
            source = store.paths.absolute(image.file_path)
            try:  # decrypted in memory, checked, then written into the archive
                data = read_decrypted(store.vault, source, photo_context(image.case_id))
            except (OSError, TamperedDataError):
                data = None
            if data is None or hashlib.sha256(data).hexdigest() != image.sha256:
                raise _PhotoChangedError(str(image.id))
            name = f"photos/{image.client_image_id}{source.suffix}"
            archive.writestr(name, data)
            photos.append({**_photo_json(image), "file": name})
        case["photos"] = photos
        manifest = json.dumps({"format": ARCHIVE_FORMAT, "case": case}, indent=1,
                              ensure_ascii=False, sort_keys=True).encode()
        archive.writestr("manifest.json", manifest)
        archive.writestr("manifest.sha256", hashlib.sha256(manifest).hexdigest())
    if isinstance(tmp, Path):
        with tmp.open("rb+") as fh:
            os.fsync(fh.fileno())  # the archive may be the only copy carried off the device
    return len(photos)


def _words(value: Any) -> str | None:
    """A photo's place words from an archive: text of a sane length, or none."""
    return value if isinstance(value, str) and 0 < len(value) <= 500 else None


def _opened_archive(path: Path, args: argparse.Namespace) -> Path | IO[bytes] | None:
    """The archive as `read_archive` takes it: a clear one as it is, a sealed one opened
    in memory with its passphrase. None (said on stderr) when it cannot be opened."""
    from kycdesk.security.errors import TamperedDataError
    from kycdesk.security.sealed_archive import is_sealed, open_sealed

    try:
        with path.open("rb") as fh:
            if not is_sealed(fh.read(8)):
                return path
            passphrase = _archive_passphrase(args, confirm=False)
            if passphrase is None:
                return None
            fh.seek(0)
            return open_sealed(fh, passphrase)
    except OSError as exc:
        print(f"error: the archive cannot be read ({exc.strerror or exc}); nothing was "
              "imported", file=sys.stderr)
    except TamperedDataError as exc:
        print(f"error: {exc} Nothing was imported.", file=sys.stderr)
    return None


def _import(store: LocalStore, path: Path, out: TextIO, args: argparse.Namespace) -> int:
    from kycdesk.core.errors import CaseNotFoundError
    from kycdesk.core.records import Location
    from kycdesk.core.states import CaseStatus, Change
    from kycdesk.persistence.captures import write_capture
    from kycdesk.persistence.commands import AddImage, CreateCase, SaveForm, Transition
    from kycdesk.persistence.encrypted_files import CAPTURE_CONTEXT

    opened = _opened_archive(path, args)
    if opened is None:
        return ExitCode.PROBLEMS
    with private_scratch_dir(store.paths, "import-") as tmp:
        try:  # each photo encrypted into the scratch folder as it is read: never clear
            case = read_archive(opened, tmp, keep_photo=lambda case_id, data: str(
                write_capture(store.vault, tmp, case_id, data)))
        except ValueError as exc:
            print(f"error: {exc}; nothing was imported", file=sys.stderr)
            return ExitCode.PROBLEMS
        case_id = case["id"]
        try:
            local = store.load_case(case_id)
        except CaseNotFoundError:
            local = None
        if local is not None and local.revision >= int(case["revision"]):
            print(f"not imported: this device has revision {local.revision} of {case_id}, "
                  f"the archive {case['revision']}", file=sys.stderr)
            return ExitCode.PROBLEMS
        if local is not None and local.status != CaseStatus.DRAFT:
            print(f"not imported: {case_id} is {local.status} here", file=sys.stderr)
            return ExitCode.PROBLEMS
        if local is None:
            store.run(CreateCase(case_id=case_id, reference_number=case["reference_number"],
                                 form_id=case["form_id"], form_version=case["form_version"]))
        definition = _definition(case["form_id"], case["form_version"], store)
        store.run(SaveForm(case_id, case["form"], case["form_version"],
                           definition.applicant_name(case["form"]),
                           definition.id_numbers(case["form"])))
        held = {i.client_image_id for i in store.list_images(case_id)}
        for photo in case["photos"]:
            if photo["client_image_id"] in held:
                continue
            store.run(AddImage(case_id, Path(photo["path"]), slot=photo["slot"],
                               # Archives before schema 8 carry no words: named anew.
                               location=Location(photo["latitude"], photo["longitude"],
                                                 photo["accuracy"],
                                                 _words(photo.get("address")),
                                                 _words(photo.get("address_source"))),
                               captured_at=photo["captured_at"],
                               captured_at_source=photo["captured_at_source"],
                               origin="camera" if photo["source"] == "camera" else "import",
                               client_image_id=photo["client_image_id"],
                               source_context=CAPTURE_CONTEXT))
        if case["status"] in (CaseStatus.READY, CaseStatus.FAILED, CaseStatus.SYNCED):
            store.run(Transition(case_id, Change.SUBMIT))
    print(f"imported {case_id} ({len(case['photos'])} photo(s))", file=out)
    return ExitCode.OK
