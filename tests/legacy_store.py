"""A clear store as kycdesk wrote it before issue 18 (schema 9), for the migration tests.

Today's code writes only encrypted stores, so the old one is rebuilt here from the
schema's own first nine migrations (forward-only, never edited) and rows shaped like the
old writer's: demo answers (`kycdesk.demo.demo_form`), the keystroke journal, events,
the field audit, the two-way tables (office notes, comments, decisions, conflicts), the
search index (kept by the schema's triggers), photos as clear JPEG files with their
thumbnails, a photo quarantined in lost+found, a capture and a partial download left in
flight by a crash, the device id. Every personal value written is returned, so a test
can look for it byte for byte (tests/raw_bytes.py) and compare it after the migration.
"""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kycdesk.demo import demo_form, render_photo
from kycdesk.paths import DataPaths, ensure_private_dir
from kycdesk.persistence import schema
from kycdesk.persistence.db import Connection
from tests import raw_bytes

LEGACY_VERSION = 9
PHOTO_SLOTS = ("id_front", "selfie", "address_proof")


@dataclass
class LegacyPhoto:
    image_id: int
    client_image_id: str
    file: str           # relative to the data root
    sha256: str
    data: bytes


@dataclass
class LegacyCase:
    case_id: str
    reference: str
    form: dict[str, Any]
    pending_edit: tuple[str, str]       # (field, value) typed after the last save
    photos: list[LegacyPhoto] = field(default_factory=list)
    office_note: str | None = None

    @property
    def name(self) -> str:
        return f"{self.form['applicant.first_name']} {self.form['applicant.last_name']}"

    @property
    def id_number(self) -> str:
        return str(self.form["identity.document_number"])

    @property
    def income(self) -> str:
        return str(self.form["employment.annual_income"])

    def expected_form(self) -> dict[str, Any]:
        """The answers a reader must return: the saved form plus the pending edit."""
        key, value = self.pending_edit
        return {**self.form, key: value}


@dataclass
class LegacyStore:
    paths: DataPaths
    cases: list[LegacyCase]
    extra_files: dict[str, bytes]   # clear files outside the rows (lost+found, in flight)

    def needles(self) -> list[raw_bytes.Needle]:
        out = raw_bytes.signature_needles()
        for number, case in enumerate(self.cases):
            out += values_needles(f"case {number}", case.expected_form())
            for photo in case.photos:
                out += raw_bytes.photo_needles(f"case {number} photo {photo.image_id}",
                                               photo.data)
        for name, data in self.extra_files.items():
            out += raw_bytes.photo_needles(f"leftover {name}", data)
        return out


def values_needles(label: str, form: dict[str, Any]) -> list[raw_bytes.Needle]:
    """A case's personal values as needles: the applicant's full name, e-mail, phone, ID
    number, income, first address line; each name part of 6+ characters; the
    signature image's SHA-256."""
    first, last = form["applicant.first_name"], form["applicant.last_name"]
    out = raw_bytes.Needle.text(f"{label} name", f"{first} {last}")
    for part in (first, last):
        if len(part) >= raw_bytes.MIN_NEEDLE:
            out += raw_bytes.Needle.text(f"{label} name part", part)
    for key in ("applicant.email", "applicant.mobile_phone", "identity.document_number",
                "employment.annual_income", "address.line1", "pending.note"):
        value = form.get(key)
        if isinstance(value, str) and len(value) >= raw_bytes.MIN_NEEDLE:
            out += raw_bytes.Needle.text(f"{label} {key}", value)
    signature = form.get("declarations.applicant_signature")
    if isinstance(signature, dict) and signature.get("png_sha256"):
        out += raw_bytes.sha256_needles(f"{label} signature", str(signature["png_sha256"]))
    return out


def _jpeg(folder: Path, name: str, *, label: str, seed: int, size: tuple[int, int]
          ) -> bytes:
    path = folder / name
    render_photo(path, label=label, subtitle="legacy store", seed=seed, size=size)
    return path.read_bytes()


def build_legacy_store(root: Path, *, cases: int = 20, seed: int = 2018,
                       photo_size: tuple[int, int] = (480, 360)) -> LegacyStore:
    """Write a schema-9 clear store at `root` (needs a QGuiApplication: photos are
    drawn with QPainter) and return what it holds."""
    paths = DataPaths(root=root, log_dir=root / "logs")
    ensure_private_dir(paths.cases_dir)
    rng = random.Random(seed)
    conn = Connection(paths.database, role="legacy-builder", writer=True)
    made: list[LegacyCase] = []
    extra: dict[str, bytes] = {}
    try:
        conn.configure()
        schema.migrate(conn, target=LEGACY_VERSION)
        now = "2026-11-30T09:00:00.000000+00:00"
        for index in range(cases):
            reference, form, (city, lat, lon) = demo_form(rng)
            case_id = str(uuid.uuid4())
            name = f"{form['applicant.first_name']} {form['applicant.last_name']}"
            status = ("DRAFT", "READY", "SYNCED", "FAILED")[index % 4]
            pending = ("pending.note", f"Called {name} about {form['employment.annual_income']}")
            case = LegacyCase(case_id, reference, form, pending)
            with conn.transaction():
                conn.execute(
                    "INSERT INTO cases(id, reference_number, status, last_saved, created_at, "
                    "form_id, form_version, applicant_name, id_number, server_receipt, "
                    "last_error, last_error_kind) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (case_id, reference, status, now, now, "individual_kyc", "3", name,
                     form["identity.document_number"],
                     json.dumps({"receipt_id": f"r-{index}", "revision": 1})
                     if status == "SYNCED" else None,
                     "The server said no" if status == "FAILED" else None,
                     "permanent" if status == "FAILED" else None))
                conn.execute(
                    "INSERT INTO case_forms(case_id, form_json, form_version, revision, "
                    "updated_at) VALUES (?,?,?,?,?)",
                    (case_id, json.dumps(form, ensure_ascii=False, sort_keys=True), "3", 1,
                     now))
                conn.execute(
                    "INSERT INTO case_edits(case_id, seq, field_key, value_json, at) "
                    "VALUES (?, 1, ?, ?, ?)", (case_id, pending[0], json.dumps(pending[1]), now))
                conn.execute(
                    "INSERT INTO case_events(case_id, at, kind, detail_json) VALUES (?,?,?,?)",
                    (case_id, now, "created", json.dumps({"reference_number": reference,
                                                          "form_id": "individual_kyc"})))
                conn.execute(
                    "INSERT INTO field_history(case_id, field_key, old_json, new_json, at, "
                    "by, why) VALUES (?,?,?,?,?,?,?)",
                    (case_id, "applicant.last_name", json.dumps("Unknown"),
                     json.dumps(form["applicant.last_name"]), now, "verifier", "typed"))
                if index % 4 == 1:  # a case the office assigned and commented on
                    case.office_note = f"Visit {name} at {form['address.line1']}"
                    conn.execute(
                        "INSERT INTO case_office(case_id, assigned_by, assigned_at, "
                        "office_note, prefilled_json) VALUES (?,?,?,?,?)",
                        (case_id, "office", now, case.office_note,
                         json.dumps([["identity.document_number",
                                      form["identity.document_number"]]])))
                    conn.execute(
                        "INSERT INTO review_comments(case_id, revision, field_key, text, "
                        "author, at) VALUES (?,?,?,?,?,?)",
                        (case_id, 1, "employment.annual_income",
                         f"Is {form['employment.annual_income']} right for {name}?",
                         "reviewer", now))
                    conn.execute(
                        "INSERT INTO case_decisions(case_id, revision, decision, note, by, "
                        "at) VALUES (?,?,?,?,?,?)",
                        (case_id, 1, "returned", f"{name}: ID {form['identity.document_number']}"
                         " unreadable", "reviewer", now))
                    conn.execute(
                        "INSERT INTO conflicts(case_id, seq, kind, field_key, server_json, "
                        "server_at, local_json, local_at) VALUES (?,?,?,?,?,?,?,?)",
                        (case_id, 1, "field", "address.line1",
                         json.dumps(form["address.line1"] + " (office)"), now,
                         json.dumps(form["address.line1"]), now))
            case_dir = paths.case_dir(case_id)
            ensure_private_dir(case_dir / "thumbs")
            for number, slot in enumerate(PHOTO_SLOTS, start=1):
                file_name = f"img_{number}.jpg"
                data = _jpeg(case_dir, file_name, label=f"{slot} {name}",
                             seed=rng.randrange(2**31), size=photo_size)
                _jpeg(case_dir / "thumbs", file_name, label=slot, seed=number,
                      size=(160, 120))
                sha = hashlib.sha256(data).hexdigest()
                client_image_id = str(uuid.uuid4())
                relative = f"cases/{case_id}/{file_name}"
                with conn.transaction():
                    image_id = conn.insert(
                        "INSERT INTO case_images(case_id, file_path, latitude, longitude, "
                        "address, accuracy, captured_at, synced, client_image_id, slot, "
                        "sha256, byte_size, mime, width, height, source, "
                        "captured_at_source, address_source) "
                        "VALUES (?,?,?,?,?,?,?,0,?,?,?,?,?,?,?,?,?,?)",
                        (case_id, relative, round(lat + number / 1000, 6),
                         round(lon - number / 1000, 6), f"near {city}", 12.0, now,
                         client_image_id, slot, sha, len(data), "image/jpeg",
                         photo_size[0], photo_size[1], "import", "import", "places"))
                case.photos.append(LegacyPhoto(image_id, client_image_id, relative, sha,
                                               data))
            made.append(case)
        # What a crash of the old app left: a photo with no row (quarantined), a camera
        # capture and a partial download in flight.
        quarantine = paths.lost_and_found / made[0].case_id
        ensure_private_dir(quarantine)
        extra["lost+found photo"] = _jpeg(quarantine, "img_9.jpg", label="lost",
                                          seed=9, size=photo_size)
        ensure_private_dir(paths.captures_dir)
        extra["capture"] = _jpeg(paths.captures_dir, "capture-1.jpg", label="capture",
                                 seed=10, size=photo_size)
        ensure_private_dir(paths.downloads_dir)
        partial = _jpeg(paths.downloads_dir, "x.part", label="download", seed=11,
                        size=photo_size)
        (paths.downloads_dir / "x.part").write_bytes(partial[: len(partial) // 2])
        extra["partial download"] = partial[: len(partial) // 2]
        (root / "device-id").write_text(f"kycdesk-{uuid.uuid4()}", encoding="ascii")
    finally:
        conn.close()
    return LegacyStore(paths, made, extra)
