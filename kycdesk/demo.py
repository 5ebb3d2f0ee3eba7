"""Realistic demo cases (generated JPEGs, plausible form values), no network.

Used by `kycdesk demo-data`, tests, benchmarks and screenshots. Deterministic for a
given seed so screenshots and benchmarks are comparable between runs.
"""

from __future__ import annotations

import itertools
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRect, Qt
from PySide6.QtGui import QColor, QFont, QImage, QImageWriter, QPainter, QPen

from kycdesk.core.clock import format_instant
from kycdesk.core.errors import FailureKind
from kycdesk.core.records import Location
from kycdesk.core.signature import Point, signature_value, smooth
from kycdesk.core.states import CaseStatus, Change
from kycdesk.paths import system_scratch_dir
from kycdesk.persistence.commands import AddImage, CreateCase, SaveForm, Transition
from kycdesk.persistence.store import LocalStore

log = logging.getLogger(__name__)

FIRST_NAMES = ["Amara", "Bilal", "Chen", "Dana", "Elif", "Farid", "Grace", "Hiroshi", "Ines",
               "Jonas", "Kavya", "Lukas", "Maya", "Nikolai", "Olu", "Priya", "Quentin",
               "Rosa", "Samir", "Tariq", "Uma", "Viktor", "Wen", "Yara", "Zofia"]
LAST_NAMES = ["Okafor", "Rahman", "Wei", "Levi", "Kaya", "Haddad", "Mensah", "Tanaka",
              "Ferreira", "Berg", "Iyer", "Novak", "Cohen", "Petrov", "Adeyemi", "Shah",
              "Moreau", "Garcia", "Nasser", "Aziz", "Rao", "Horvat", "Lin", "Saleh", "Kowalska"]
STREETS = ["Harbour Road", "Station Street", "Market Lane", "Mill Close", "Church Walk",
           "Park Avenue", "Canal Side", "High Street", "Orchard Way", "Bridge Row"]
CITIES = [("Leeds", 53.8008, -1.5491), ("Bristol", 51.4545, -2.5879),
          ("Manchester", 53.4808, -2.2426), ("Glasgow", 55.8642, -4.2518),
          ("Cardiff", 51.4816, -3.1791), ("Belfast", 54.5973, -5.9301)]
SLOTS = [("id_front", "ID FRONT"), ("id_back", "ID BACK"), ("selfie", "SELFIE"),
         ("address_proof", "ADDRESS PROOF"), ("site", "SITE PHOTO")]
DEMO_FORM_ID = "individual_kyc"
DEMO_FORM_VERSION = "3"  # the newest form: keys follow resources/forms/individual_kyc_v3.json
VERIFIERS = [("Sam Patel", "V10234"), ("Jo Byrne", "V20417"), ("Ade Bello", "V30981")]
SIGNATURE_SIZE = (560, 180)  # the pad's size (views/signature_pad.py)
STATUS_MIX = [CaseStatus.DRAFT] * 4 + [CaseStatus.READY] * 3 + [CaseStatus.SYNCED] * 2 \
    + [CaseStatus.FAILED]


@dataclass(frozen=True)
class DemoResult:
    case_ids: list[str]
    images: int


def render_photo(path: Path, *, label: str, subtitle: str, seed: int,
                 size: tuple[int, int] = (1600, 1200), quality: int = 85) -> None:
    """Draw a document-like picture with QPainter and save it as JPEG."""
    image = render_picture(label=label, subtitle=subtitle, seed=seed, size=size)
    # PySide6 stubs say bytes for the format, the runtime only accepts str.
    if not image.save(str(path), "JPEG", quality):  # type: ignore[call-overload]
        raise OSError(f"could not write demo image {path}")


def render_picture(*, label: str, subtitle: str, seed: int,
                   size: tuple[int, int] = (1600, 1200)) -> QImage:
    """A document-like picture drawn with QPainter (in memory)."""
    rng = random.Random(seed)
    width, height = size
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor.fromHsv(rng.randrange(360), 40, 235))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    card = QRect(width // 10, height // 8, width * 8 // 10, height * 6 // 8)
    painter.setBrush(QColor.fromHsv(rng.randrange(360), 70, 250))
    painter.setPen(QColor(60, 60, 60))
    painter.drawRoundedRect(card, 30, 30)
    painter.setBrush(QColor.fromHsv(rng.randrange(360), 90, 170))
    face = QRect(card.left() + card.width() // 16, card.top() + card.height() // 6,
                 card.width() // 4, card.height() * 2 // 3)
    painter.drawEllipse(face)
    for _ in range(30):  # noise so every picture compresses like a photo, not a flat card
        painter.setPen(QColor.fromHsv(rng.randrange(360), 60, rng.randrange(120, 230)))
        painter.drawLine(rng.randrange(width), rng.randrange(height),
                         rng.randrange(width), rng.randrange(height))
    painter.setPen(QColor(20, 20, 20))
    font = QFont()
    font.setPixelSize(max(12, height // 14))
    font.setBold(True)
    painter.setFont(font)
    text_left = face.right() + card.width() // 16
    painter.drawText(QRect(text_left, card.top() + card.height() // 6, card.right() - text_left,
                           height // 10), Qt.AlignmentFlag.AlignLeft, label)
    font.setPixelSize(max(10, height // 22))
    font.setBold(False)
    painter.setFont(font)
    painter.drawText(QRect(text_left, card.top() + card.height() // 2, card.right() - text_left,
                           height // 4), Qt.AlignmentFlag.AlignLeft, subtitle)
    painter.end()
    return image


def years_later(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 28 February in a common year
    (an ID issued on a leap day: `date.replace` raises, which made demo data fail on
    the days whose random issue date fell on one)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def demo_form(rng: random.Random, *, today: date | None = None
              ) -> tuple[str, dict[str, Any], tuple[str, float, float]]:
    """A complete, valid answer set for the newest form (every required field, the
    applicant's signature, the verifier's declaration), dates relative to `today`."""
    today = today or date.today()
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city = rng.choice(CITIES)
    reference = f"KYC-{rng.randrange(2026_000000, 2026_999999)}"
    verifier, employee_id = rng.choice(VERIFIERS)
    pep = rng.random() < 0.05
    status = rng.choice(["employed", "self_employed", "retired", "student"])
    issued = today - timedelta(days=rng.randrange(200, 3000))
    form: dict[str, Any] = {
        "applicant.title": rng.choice(["mr", "mrs", "ms", "mx", "dr"]),
        "applicant.first_name": first,
        "applicant.last_name": last,
        "applicant.date_of_birth": f"{rng.randrange(1950, 2004)}-{rng.randrange(1, 13):02d}-"
                                   f"{rng.randrange(1, 29):02d}",
        "applicant.place_of_birth": rng.choice(["Lagos", "Kraków", "Leeds", "Lahore", "Cork"]),
        "applicant.country_of_birth": rng.choice(["GB", "IE", "IN", "NG", "PL", "TR", "PK"]),
        "applicant.nationality": rng.choice(["GB", "IE", "IN", "NG", "PL", "TR", "PK"]),
        "applicant.mobile_phone": f"+44 7{rng.randrange(100, 999)} "
                                  f"{rng.randrange(100000, 999999)}",
        "applicant.email": f"{first.lower()}.{last.lower()}@example.org",
        "applicant.tax_residency_country": "GB",
        "identity.document_type": rng.choice(["passport", "national_id", "driving_licence"]),
        "identity.document_number": f"{rng.choice('ABCDEFGHJK')}{rng.randrange(10**7, 10**8)}",
        "identity.issuing_country": "GB",
        "identity.issue_date": issued.isoformat(),
        "identity.expiry_date": years_later(issued, 10).isoformat(),
        "identity.seen_original": True,
        "identity.photo_matches_applicant": True,
        "identity.name_matches_application": True,
        "address.line1": f"{rng.randrange(1, 240)} {rng.choice(STREETS)}",
        "address.city": city[0],
        "address.postal_code": f"{rng.choice(['LS', 'BS', 'M', 'G', 'CF', 'BT'])}"
                               f"{rng.randrange(1, 30)} {rng.randrange(1, 10)}"
                               f"{rng.choice('ABDEFGHJ')}{rng.choice('LNPQRSTU')}",
        "address.country": "GB",
        "address.moved_in": (today - timedelta(days=rng.randrange(1200, 9000))).isoformat(),
        "address.residential_status": rng.choice(["owner", "mortgage", "renting"]),
        "address.less_than_three_years": False,
        "address.correspondence_same": True,
        "address.proof_type": rng.choice(["utility_bill", "bank_statement", "council_tax"]),
        "address.proof_date": (today - timedelta(days=rng.randrange(5, 60))).isoformat(),
        "employment.status": status,
        "employment.annual_income": f"{rng.randrange(12_000, 140_000, 500)}.00",
        "employment.source_of_wealth": [rng.choice(["salary", "business", "savings"])],
        "employment.source_of_funds": rng.choice(["salary", "savings", "pension"]),
        "employment.expected_monthly_deposits": f"{rng.randrange(500, 6_000, 50)}.00",
        "employment.purpose_of_account": rng.choice(["everyday_banking", "savings",
                                                     "salary"]),
        "declarations.pep": pep,
        "declarations.family_pep": False,
        "declarations.associate_pep": False,
        "declarations.sanctions": False,
        "declarations.adverse_media": False,
        "declarations.criminal_convictions": False,
        "declarations.bankruptcy": False,
        "declarations.third_party": False,
        "declarations.us_person": False,
        "declarations.applicant_signature": demo_signature(rng, today),
        "visit.date": today.isoformat(),
        "visit.met_applicant": True,
        "visit.property_type": rng.choice(["detached", "semi_detached", "terraced", "flat"]),
        "visit.residence_confirmed": True,
        "visit.discrepancies": False,
        "verifier.name": verifier,
        "verifier.employee_id": employee_id,
        "verifier.outcome": "approve",
        "verifier.risk_rating": "high" if pep else rng.choice(["low", "medium"]),
        "verifier.declaration_truthful": True,
        "verifier.declaration_in_person": True,
        "verifier.declaration_data_protection": True,
        "verifier.signature_name": verifier,
        "verifier.signed_on": today.isoformat(),
    }
    if status == "employed":
        form["employment.employer_name"] = rng.choice(["Northwind Ltd", "Acme Foods plc",
                                                       "City Council"])
    elif status == "self_employed":
        form["employment.business_name"] = f"{last} Services"
    if pep:
        form["declarations.pep_role"] = "Local councillor"
        form["declarations.pep_country"] = "GB"
    return reference, form, city


def demo_signature(rng: random.Random, day: date) -> dict[str, Any]:
    """A handwritten-looking signature: a few wavy strokes, as the pad records them
    (points with time and pressure), and the PNG they render to."""
    width, height = SIGNATURE_SIZE
    strokes: list[list[Point]] = []
    x, t = 40.0, 0
    for _ in range(rng.randrange(2, 4)):
        stroke: list[Point] = []
        amplitude, step = rng.uniform(25, 55), rng.uniform(6, 10)
        for i in range(rng.randrange(14, 30)):
            y = height / 2 + amplitude * math.sin(i * rng.uniform(0.6, 0.9))
            stroke.append((round(min(x, width - 10.0), 1), round(y, 1), t,
                           round(rng.uniform(0.35, 0.75), 3)))
            x += step
            t += rng.randrange(8, 20)
        strokes.append(stroke)
        x += 25
        t += 200
    signed_at = datetime.combine(day, time(rng.randrange(9, 17), rng.randrange(60)),
                                 tzinfo=UTC)
    return signature_value(strokes, width, height, _signature_png(strokes, width, height),
                           format_instant(signed_at))


def _signature_png(strokes: list[list[Point]], width: int, height: int) -> bytes:
    """Black ink on white, the smoothed curve (as the pad draws it)."""
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor("black"), 2.5))
    for stroke in strokes:
        curve = smooth(stroke)
        for (x1, y1, _t1, _p1), (x2, y2, _t2, _p2) in itertools.pairwise(curve):
            painter.drawLine(QPointF(x1, y1), QPointF(x2, y2))
    painter.end()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not QImageWriter(buffer, QByteArray(b"png")).write(image):
        raise OSError("could not render the demo signature")
    return bytes(buffer.data().data())


def generate(store: LocalStore, *, cases: int, images_per_case: int,
             status: str = CaseStatus.DRAFT.value, seed: int = 2026,
             image_size: tuple[int, int] = (1600, 1200),
             progress: Callable[[int, int], None] | None = None) -> DemoResult:
    """Create `cases` demo cases with `images_per_case` photos each."""
    rng = random.Random(seed)
    case_ids: list[str] = []
    added = 0
    with system_scratch_dir("kycdesk-demo-") as tmp:
        for index in range(cases):
            reference, form, (_city, lat, lon) = demo_form(rng)
            case_id = store.run(CreateCase(reference_number=reference, form_id=DEMO_FORM_ID,
                                        form_version=DEMO_FORM_VERSION))
            store.run(SaveForm(case_id, form, DEMO_FORM_VERSION,
                            applicant_name=f"{form['applicant.first_name']} "
                                           f"{form['applicant.last_name']}",
                            id_number=form.get("identity.document_number")))
            for photo in range(images_per_case):
                slot, label = SLOTS[photo % len(SLOTS)]
                source = tmp / f"{index}_{photo}.jpg"
                name = f"{form['applicant.first_name']} {form['applicant.last_name']}"
                render_photo(source, label=label, subtitle=f"{name}\n{reference}",
                             seed=rng.randrange(2**31), size=image_size)
                location = Location(latitude=round(lat + rng.uniform(-0.05, 0.05), 6),
                                    longitude=round(lon + rng.uniform(-0.05, 0.05), 6),
                                    accuracy=round(rng.uniform(3, 40), 1))
                # No address given: the import names the place (core/places.py), as it
                # does for a real photo — never the applicant's street.
                store.run(AddImage(case_id, source, slot=slot, location=location, origin="demo"))
                source.unlink()
                added += 1
            target = _pick_status(status, index)
            _move_to(store, case_id, target)
            case_ids.append(case_id)
            if progress is not None:
                progress(index + 1, cases)
    return DemoResult(case_ids=case_ids, images=added)


def _pick_status(status: str, index: int) -> CaseStatus:
    if status.lower() == "mixed":
        return STATUS_MIX[index % len(STATUS_MIX)]
    return CaseStatus(status.upper())


def _move_to(store: LocalStore, case_id: str, target: CaseStatus) -> None:
    if target is CaseStatus.DRAFT:
        return
    store.run(Transition(case_id, Change.SUBMIT))
    if target is CaseStatus.SYNCED:
        revision = store.load_sync_case(case_id).revision
        store.run(Transition(case_id, Change.SYNCED, revision=revision,
                             receipt={"receipt_id": f"demo-{case_id[:8]}", "revision": revision,
                                      "server_image_ids": []}))
    elif target is CaseStatus.FAILED:
        store.run(Transition(case_id, Change.SYNC_FAILED,
                             error="The server rejected photo 2: its checksum did not match.",
                             error_kind=FailureKind.PERMANENT))
