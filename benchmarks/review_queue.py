"""The review at 100,000 cases on the embedded back end (SQLite + files): server time per
request for the queue (every sort, filter and search; page 1 and page 2,000 by keyset),
the case page of a case with 10 photos, and a photo's first byte (whole, If-None-Match,
Range).

The cases go in through the acceptance path's own SQL (ServerStore.store_submission,
which also fills the review queue), batched in outer transactions so building takes
minutes, not hours; 10 % are then assigned and 10 % decided through ReviewService. The
case with photos is sent like any other (photos held, then the submission accepted).
Requests go to the real ASGI app in-process (routing, the session dependency, the
service, rendering), so the time is the server's without a network.

    python -m benchmarks.review_queue [--cases 100000] [--repeat 30] [--postgres]

`--postgres`: the same on a throwaway PostgreSQL cluster (tests/real_parts.py) instead
of the embedded SQLite file (photos stay local files).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import random
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks.common import header, percentile, verdict
from kycdesk.demo import FIRST_NAMES, LAST_NAMES
from kycdesk_server.app import ServerConfig, create_app
from kycdesk_server.backoffice.identity import Reviewer
from kycdesk_server.backoffice.review import DecisionRequest
from kycdesk_server.backoffice.review_states import ReviewChange
from kycdesk_server.storage import ServerStore

FORM_ID, FORM_VERSION = "individual_kyc", "2"
FORM = {"form_id": FORM_ID, "form_version": FORM_VERSION}
BATCH = 5000
PAGE = 50


def body(rng: random.Random, n: int) -> dict[str, Any]:
    return {**FORM, "revision": 1, "reference_number": f"KYC-{2026_000000 + n}",
            "form": {"applicant.first_name": rng.choice(FIRST_NAMES),
                     "applicant.last_name": rng.choice(LAST_NAMES),
                     "identity.document_number": f"{rng.choice('ABCDEFGHJK')}"
                                                 f"{rng.randrange(10**7, 10**8)}",
                     "identity.document_type": "passport"},
            "images": [], "client": {"app_version": "bench", "device_id": "bench"}}


def build(store: ServerStore, cases: int, seed: int = 16) -> list[str]:
    rng = random.Random(seed)
    ids = [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(cases)]
    for start in range(0, cases, BATCH):
        with store.db.transaction():
            for n in range(start, min(cases, start + BATCH)):
                store.store_submission(ids[n], 1, body(rng, n), body_hash=f"h{n}",
                                       device_id="bench", server_image_ids=[])
    return ids


def assign_and_decide(office: Any, ids: list[str], reviewer: Reviewer) -> None:
    review = office.review
    with review.db.transaction():
        for case_id in ids[: len(ids) // 10]:
            review.assign(reviewer, case_id, reviewer, address="bench")
        for n, case_id in enumerate(ids[len(ids) // 10: len(ids) // 5]):
            change = (ReviewChange.APPROVE, ReviewChange.REJECT)[n % 2]
            review.decide(reviewer, case_id, DecisionRequest(
                1, change, reason_code="other" if n % 2 else None,
                note="bench" if n % 2 else ""), address="bench")


def photo_case(store: ServerStore, folder: Path) -> tuple[str, list[str]]:
    """A case with 10 photos of 300 kB, held and submitted like any other."""
    from kycdesk.core.protocol import ClientInfo, Submission, SubmissionImage
    from kycdesk_server.services.submissions import SubmissionService

    case_id, images = str(uuid.uuid4()), []
    for n in range(10):
        data = b"\xff\xd8\xff\xe0" + random.Random(n).randbytes(300 * 1024)
        file = folder / f"p{n}"
        file.write_bytes(data)
        client_id = str(uuid.uuid4())
        sha = hashlib.sha256(data).hexdigest()
        held = store.hold_image(case_id, client_id, file, sha, len(data))
        images.append(SubmissionImage(client_image_id=client_id,
                                      server_image_id=held.server_image_id,
                                      slot="site" if n > 2 else "id_front", sha256=sha,
                                      captured_at="2026-12-01T10:00:00Z",
                                      captured_at_source="exif", latitude=51.5,
                                      longitude=-0.12, accuracy=8.0))
    outcome = SubmissionService(store).accept(case_id, Submission(
        revision=1, reference_number="KYC-PHOTOS", form=body(random.Random(1), 0)["form"],
        images=images, client=ClientInfo(app_version="bench", device_id="bench"),
        form_id=FORM_ID, form_version=FORM_VERSION),
        "bench")
    assert outcome.new
    return case_id, [i.client_image_id for i in images]


def key_at_page(store: ServerStore, column: str, page: int, *, descending: bool = False,
                where: str = "", params: tuple[Any, ...] = ()) -> dict[str, str]:
    """The (after, after_id) a reviewer holds after paging to `page` (set-up only)."""
    order = "DESC" if descending else "ASC"
    row = store.db.execute(
        f"SELECT {column}, case_id FROM review_cases {where} ORDER BY {column} {order}, "
        f"case_id {order} LIMIT 1 OFFSET ?", (*params, (page - 1) * PAGE - 1)).fetchone()
    return {"after": row[0], "after_id": row[1]}


async def timed(call: Callable[[], Awaitable[httpx.Response]], repeat: int,
                expect: int = 200) -> list[float]:
    await call()  # warm-up (first use of a query plan, template): not counted
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        reply = await call()
        samples.append(time.perf_counter() - started)
        assert reply.status_code == expect, (reply.status_code, reply.text[:300])
    return samples


async def first_byte(client: httpx.AsyncClient, url: str, headers: dict[str, str],
                     repeat: int) -> list[float]:
    await client.get(url, headers=headers)  # warm-up: not counted
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        async with client.stream("GET", url, headers=headers) as reply:
            async for _chunk in reply.aiter_raw():
                samples.append(time.perf_counter() - started)
                break
            else:
                samples.append(time.perf_counter() - started)  # 304: no body
    return samples


def _get(client: httpx.AsyncClient, path: str, params: dict[str, Any]
         ) -> Callable[[], Awaitable[httpx.Response]]:
    return lambda: client.get(path, params=params)


def report(name: str, samples: list[float], target_ms: float) -> bool:
    ms = [s * 1000 for s in samples]
    p50, p95 = percentile(ms, 50), percentile(ms, 95)
    print(f"   {name:<58} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
    return p95 <= target_ms


async def measure(store: ServerStore, office: Any, token: str, *, photo_case_id: str,
                  photo_ids: list[str], repeat: int) -> bool:
    app = create_app(store, ServerConfig(tokens=set()))
    app.state.office = office
    transport = httpx.ASGITransport(app=app)
    ok = True
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1",
                                 headers={"Cookie": f"__Host-kycdesk-office={token}"}
                                 ) as client:
        deep = min(2000, max(2, store.db.execute(
            "SELECT count(*) FROM review_cases").fetchone()[0] // PAGE))
        page2000 = {
            "received": key_at_page(store, "received_at", deep),
            "reference desc": key_at_page(store, "reference", deep, descending=True),
            "applicant": key_at_page(store, "applicant_key", deep),
        }
        queries: list[tuple[str, dict[str, Any]]] = [
            ("received, page 1", {}),
            ("received, page 2,000 (keyset)", page2000["received"]),
            ("reference desc, page 1", {"sort": "reference", "order": "desc"}),
            ("reference desc, page 2,000", {"sort": "reference", "order": "desc",
                                            **page2000["reference desc"]}),
            ("applicant, page 1", {"sort": "applicant"}),
            ("applicant, page 2,000", {"sort": "applicant", **page2000["applicant"]}),
            ("state=received", {"state": "received"}),
            ("state=rejected, applicant sort", {"state": "rejected", "sort": "applicant"}),
            ("assignee=me", {"assignee": "me"}),
            ("assignee=none, state=received", {"assignee": "none", "state": "received"}),
            ("search a surname (~1/20 of cases)", {"q": LAST_NAMES[3].lower()}),
            ("search first + last name", {"q": f"{FIRST_NAMES[2]} {LAST_NAMES[5]}"}),
            ("search surname, applicant sort desc", {"q": LAST_NAMES[7], "sort": "applicant",
                                                     "order": "desc"}),
            ("search an ID number prefix", {"q": "A1234"}),
            ("search a reference", {"q": "KYC-2026050000"}),
            ("search that matches nothing", {"q": "zzzzqx"}),
        ]
        print("   queue: JSON /api/office/cases and the HTML page /office/queue (target p95 "
              "< 150 ms)")
        for name, params in queries:
            for label, path in (("json", "/api/office/cases"), ("page", "/office/queue")):
                samples = await timed(_get(client, path, params), repeat)
                ok &= report(f"{label} {name}", samples, 150)
        print("   case page with 10 photos (target p95 < 300 ms)")
        for label, path in (("json", f"/api/office/cases/{photo_case_id}"),
                            ("page", f"/office/cases/{photo_case_id}")):
            ok &= report(f"{label} case", await timed(_get(client, path, {}), repeat), 300)
        print("   a photo's first byte, 300 kB JPEG (target < 50 ms)")
        url = f"/api/office/cases/{photo_case_id}/photos/{photo_ids[0]}"
        whole = await client.get(url)
        tag = whole.headers["etag"]
        for name, headers in (("whole photo", {}), ("If-None-Match (304)",
                                                   {"If-None-Match": tag}),
                              ("Range bytes=100000-199999", {"Range": "bytes=100000-199999"})):
            ok &= report(f"photo {name}", await first_byte(client, url, headers, repeat), 50)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args(argv)
    engine = "PostgreSQL" if args.postgres else "embedded SQLite"
    header(f"review at {args.cases:,} cases ({engine})")
    from kycdesk_server.backoffice.services import OfficeServices

    postgres = None
    if args.postgres:
        from tests.real_parts import start_postgres

        postgres = start_postgres()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        store = ServerStore(folder / "data", postgres.new_database("review_bench")
                            if postgres is not None else None)
        office = OfficeServices.open(store)
        account = office.accounts.add("bench", "reviewer", "a long passphrase for timing",
                                      by=None, address="bench")
        reviewer = account.reviewer()
        started = time.perf_counter()
        ids = build(store, args.cases)
        built = time.perf_counter() - started
        assign_and_decide(office, ids, reviewer)
        decided = time.perf_counter() - started - built
        photo_case_id, photo_ids = photo_case(store, Path(scratch))
        token = office.sessions.start(account.id, "signed_in", "127.0.0.1")
        print(f"   built {args.cases:,} cases in {built:.0f} s through store_submission; "
              f"{args.cases // 10:,} assigned and {args.cases // 10:,} decided through "
              f"ReviewService in {decided:.0f} s")
        ok = asyncio.run(measure(store, office, token, photo_case_id=photo_case_id,
                                 photo_ids=photo_ids, repeat=args.repeat))
        store.close()
    if postgres is not None:
        postgres.stop()
    verdict("every figure within its target", 1.0 if ok else 0.0, 1.0, "",
            lower_is_better=False)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
