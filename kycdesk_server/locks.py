"""Per-key locks for the server's event loop that do not pile up forever.

`KeyedLocks`: serialise work on one key (a photo id, a case's submission); the entry is
dropped when nobody holds or waits for it, so the table is as large as the work in flight.

`UploadGuards`: at most one request writes to an upload at a time. A newer request for
the same upload does not wait behind an older one that may be dead (a client that
vanished mid-body, a link that stalled): it gives the older one a short grace to finish
on its own (bytes a killed client had already sent are still arriving — keeping them
saves sending them again), then asks it to stop — which records every byte it received
— and takes over. That is what a resuming client needs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _Entry:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class KeyedLocks:
    def __init__(self) -> None:
        self._entries: dict[str, _Entry] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        entry = self._entries.setdefault(key, _Entry())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


class TakenOverError(Exception):
    """The guard could not be had in time (the holder did not stop)."""


@dataclass
class _Guard:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    users: int = 0


class UploadGuards:
    def __init__(self, takeover_timeout_s: float = 10.0, grace_s: float = 3.0) -> None:
        self._guards: dict[str, _Guard] = {}
        self._timeout = takeover_timeout_s
        self._grace = grace_s

    @asynccontextmanager
    async def writer(self, upload_id: str) -> AsyncIterator[asyncio.Event]:
        """Hold the upload; yields the event that is set when a newer request wants it."""
        guard = self._guards.setdefault(upload_id, _Guard())
        guard.users += 1
        try:
            try:
                await asyncio.wait_for(guard.lock.acquire(), self._grace)
            except TimeoutError:
                guard.stop.set()  # ask the current holder to record what it has and stop
                try:
                    await asyncio.wait_for(guard.lock.acquire(), self._timeout)
                except TimeoutError as exc:
                    raise TakenOverError(upload_id) from exc
            guard.stop = asyncio.Event()
            try:
                yield guard.stop
            finally:
                guard.lock.release()
        finally:
            guard.users -= 1
            if guard.users == 0:
                self._guards.pop(upload_id, None)

    def __len__(self) -> int:
        return len(self._guards)


class DeviceSlots:
    """At most `limit` upload requests of one device writing at a time (the app sends 3):
    a device that opens hundreds cannot hold the server's file handles."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._busy: dict[str, int] = {}

    @asynccontextmanager
    async def slot(self, device_id: str) -> AsyncIterator[bool]:
        """Yields False (and holds nothing) when the device is at its limit."""
        if self._busy.get(device_id, 0) >= self.limit:
            yield False
            return
        self._busy[device_id] = self._busy.get(device_id, 0) + 1
        try:
            yield True
        finally:
            self._busy[device_id] -= 1
            if not self._busy[device_id]:
                del self._busy[device_id]

    def __len__(self) -> int:
        return len(self._busy)
