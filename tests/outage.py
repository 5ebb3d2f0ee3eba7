"""A steady load of devices against a real server while one of its parts fails, and what
the server answered: every status seen, and every photo and submission it acknowledged
(to check afterwards that none was lost)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from kycdesk.core.protocol import OFFSET_CONTENT_TYPE, TUS_VERSION, encode_upload_metadata
from tests.sync_support import TOKEN, ServerHandle

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Acknowledged:
    case_id: str
    client_image_id: str
    server_image_id: str
    sha256: str
    receipt_id: str | None = None


@dataclass
class SteadyLoad:
    """`devices` threads, each sending case after case (one photo, then the submission)
    until stopped; a refused step is retried after a short pause, as the app does."""

    server: ServerHandle
    devices: int = 4
    statuses: Counter[int] = field(default_factory=Counter)
    retry_after_missing: int = 0
    acknowledged: list[Acknowledged] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> SteadyLoad:
        for _ in range(self.devices):
            thread = threading.Thread(target=self._device, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)

    def _seen(self, reply: httpx.Response) -> httpx.Response:
        with self._lock:
            self.statuses[reply.status_code] += 1
            if reply.status_code in (503, 507) and "retry-after" not in reply.headers:
                self.retry_after_missing += 1
        return reply

    def _device(self) -> None:
        with httpx.Client(base_url=self.server.base_url, timeout=30) as http:
            while not self._stop.is_set():
                # A cut connection: the next case starts afresh.
                with contextlib.suppress(httpx.TransportError):
                    self._one_case(http)
                self._stop.wait(0.05)  # a device does not hammer: a short think time

    def _one_case(self, http: httpx.Client) -> None:
        case_id, image_id = str(uuid.uuid4()), str(uuid.uuid4())
        photo = os.urandom(2048)
        sha = hashlib.sha256(photo).hexdigest()
        tus = {**AUTH, "Tus-Resumable": TUS_VERSION}
        created = self._seen(http.post("/v1/uploads", headers={
            **tus, "Upload-Length": str(len(photo)), "Content-Type": OFFSET_CONTENT_TYPE,
            "Upload-Metadata": encode_upload_metadata(
                {"case_id": case_id, "client_image_id": image_id, "sha256": sha})},
            content=photo))
        if created.status_code != 201:
            return
        location, reply = created.headers["location"], created
        while "kycdesk-server-image-id" not in reply.headers:  # resume as the app does
            if self._stop.is_set():
                return
            head = self._seen(http.head(location, headers=tus))
            if head.status_code != 200:
                self._stop.wait(0.2)
                continue
            offset = int(head.headers["upload-offset"])
            reply = head if "kycdesk-server-image-id" in head.headers else self._seen(
                http.patch(location, content=photo[offset:], headers={
                    **tus, "Upload-Offset": str(offset), "Content-Type": OFFSET_CONTENT_TYPE}))
        created = reply
        ack = Acknowledged(case_id, image_id, created.headers["kycdesk-server-image-id"], sha)
        with self._lock:
            self.acknowledged.append(ack)
        body = {"revision": 1, "form": {"a": 1}, "client": {"app_version": "t",
                                                             "device_id": "d"},
                "images": [{"client_image_id": image_id,
                            "server_image_id": ack.server_image_id, "sha256": sha}]}
        while not self._stop.is_set():
            reply = self._seen(http.put(f"/v1/cases/{case_id}/submission", json=body,
                                        headers=AUTH))
            if reply.status_code in (200, 201):
                ack.receipt_id = reply.json()["receipt_id"]
                return
            self._stop.wait(0.2)

    def wait_until(self, condition: Callable[[], bool], timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the load never saw it: {dict(self.statuses)}")
            self._stop.wait(0.05)

    def wait_for_answers(self, count: int, timeout_s: float = 60) -> None:
        """Until `count` more answers were seen (the load is running)."""
        with self._lock:
            target = sum(self.statuses.values()) + count
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._lock:
                if sum(self.statuses.values()) >= target:
                    return
            self._stop.wait(0.05)
        raise TimeoutError(f"the load saw fewer than {count} answers in {timeout_s} s")


def seconds_until_ready(server: ServerHandle, timeout_s: float = 30) -> float:
    """How long until /ready answers 200 (polled every 100 ms)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout_s:
        try:
            if httpx.get(f"{server.base_url}/ready", timeout=10).status_code == 200:
                return time.monotonic() - began
        except httpx.TransportError:
            pass
        time.sleep(0.1)  # polling readiness from outside, as a load balancer does
    raise TimeoutError(f"/ready did not answer 200 within {timeout_s} s")


def assert_nothing_acknowledged_was_lost(server: ServerHandle,
                                         acknowledged: list[Acknowledged]) -> None:
    images = {row[0]: row[1:] for row in server.query(
        "SELECT client_image_id, server_image_id, sha256 FROM images")}
    receipts = {row[0] for row in server.query(
        "SELECT receipt_id FROM submission_revisions")}
    for ack in acknowledged:
        assert images.get(ack.client_image_id) == (ack.server_image_id, ack.sha256)
        if ack.receipt_id is not None:
            assert ack.receipt_id in receipts
