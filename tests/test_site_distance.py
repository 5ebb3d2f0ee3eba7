"""The review page's fact about site photos: how far from the declared town they were
taken (server side, from the photos' GPS and the same GeoNames places the app uses), and
each photo's place words with their source."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kycdesk.core.protocol import ClientInfo, Submission, SubmissionImage
from kycdesk_server.app import ServerConfig, create_app
from kycdesk_server.backoffice.audit import AuditLog
from kycdesk_server.backoffice.review import ReviewService
from kycdesk_server.backoffice.services import OfficeServices
from kycdesk_server.backoffice.web import SESSION_COOKIE
from kycdesk_server.services.submissions import SubmissionService
from kycdesk_server.storage import ServerStore
from tests.review_support import FORM_ID, FORM_VERSION, answers, jpeg

LONDON = {"latitude": 51.5074, "longitude": -0.1278, "accuracy": 10.0,
          "address": "near City of Westminster, England, United Kingdom",
          "address_source": "nearest place, 1 km"}


def submit(store: ServerStore, tmp: Path, case_id: str, values: dict[str, Any],
           photos: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Hold and submit one photo per (slot, facts); their client image ids."""
    images, ids = [], []
    for seed, (slot, facts) in enumerate(photos):
        data = jpeg(seed)
        client_image_id = str(uuid.uuid4())
        file = tmp / f"{client_image_id}.jpg"
        file.write_bytes(data)
        held = store.hold_image(case_id, client_image_id, file,
                                hashlib.sha256(data).hexdigest(), len(data))
        images.append(SubmissionImage(client_image_id=client_image_id,
                                      server_image_id=held.server_image_id, slot=slot,
                                      sha256=hashlib.sha256(data).hexdigest(), **facts))
        ids.append(client_image_id)
    outcome = SubmissionService(store).accept(case_id, Submission(
        revision=1, form=values, images=images, form_id=FORM_ID, form_version=FORM_VERSION,
        client=ClientInfo(app_version="test", device_id="lab")), "lab")
    assert outcome.new
    return ids


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ServerStore]:
    opened = ServerStore(tmp_path / "data")
    yield opened
    opened.close()


def service(store: ServerStore) -> ReviewService:
    return ReviewService(store.db, AuditLog(store.db), store.blobs)


def test_the_site_photos_distance_from_the_declared_town_is_a_fact(
        store: ServerStore, tmp_path: Path) -> None:
    case_id = str(uuid.UUID(int=1))
    site, front = submit(store, tmp_path, case_id,
                         answers(**{"address.city": "leeds", "address.country": "GB"}),
                         [("site", LONDON), ("id_front", LONDON)])
    detail = service(store).case(case_id)
    photo = {p.slot: p for p in detail.photos}["site"]
    assert photo.address_source == "nearest place, 1 km"
    distance = detail.site_distance
    assert distance is not None and distance.note is None
    assert distance.declared_town == "leeds"
    assert distance.town == "Leeds, England, United Kingdom"
    # London to Leeds, great circle: ~272 km. Only the site photo is compared.
    assert [(d.client_image_id, d.distance) for d in distance.photos] == [(site, "272 km")]
    assert front not in {d.client_image_id for d in distance.photos}


@pytest.mark.parametrize(("values", "facts", "note"), [
    ({"address.city": "Leeds"}, {}, "No site photo has a GPS position."),
    ({"address.city": "Nowhere-upon-Nothing", "address.country": "GB"}, LONDON,
     "The declared town is not among the places the server knows"),
])
def test_when_no_distance_can_be_given_the_page_says_why(
        store: ServerStore, tmp_path: Path, values: dict[str, Any], facts: dict[str, Any],
        note: str) -> None:
    case_id = str(uuid.uuid4())
    submit(store, tmp_path, case_id, answers(**values), [("site", facts)])
    distance = service(store).case(case_id).site_distance
    assert distance is not None and distance.note is not None
    assert distance.note.startswith(note) and distance.photos == []


def test_nothing_to_compare_without_a_declared_town_or_a_site_photo(
        store: ServerStore, tmp_path: Path) -> None:
    no_town, no_site = str(uuid.uuid4()), str(uuid.uuid4())
    submit(store, tmp_path, no_town, answers(), [("site", LONDON)])
    submit(store, tmp_path, no_site, answers(**{"address.city": "Leeds"}),
           [("selfie", LONDON)])
    assert service(store).case(no_town).site_distance is None
    assert service(store).case(no_site).site_distance is None


@pytest.fixture
def app(store: ServerStore) -> FastAPI:
    return create_app(store, ServerConfig(tokens=set()))


def test_the_case_page_shows_the_place_its_source_and_the_distance(
        app: FastAPI, store: ServerStore, tmp_path: Path) -> None:
    case_id = str(uuid.UUID(int=7))
    submit(store, tmp_path, case_id,
           answers(**{"address.city": "Leeds", "address.country": "GB"}), [("site", LONDON)])
    office: OfficeServices = app.state.office
    account = office.accounts.add("rita", "reviewer", "a long enough passphrase",
                                  by=None, address="test")
    token = office.sessions.start(account.id, "signed_in", "test")

    async def get() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="https://testserver") as client:
            return await client.get(f"/office/cases/{case_id}",
                                    headers={"Cookie": f"{SESSION_COOKIE}={token}"})

    page = asyncio.run(get())
    assert page.status_code == 200, page.text
    text = page.text
    assert "near City of Westminster, England, United Kingdom" in text
    assert "(nearest place, 1 km)" in text
    assert "found as Leeds, England, United Kingdom" in text
    assert "taken 272 km from it" in text
