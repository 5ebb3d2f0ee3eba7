"""Resumable uploads (tus): one row per upload in the server's database; the bytes
received so far in the partial-bytes store (`blobs.py`: a local file, or chunk objects in
S3).

What makes it survive a flaky link and a restarted server:
- bytes are appended as they arrive and made durable when a request ends — however it
  ends (finished, cut, stalled, cancelled) — and only then is the new offset recorded
  (compare and set: a request overtaken by a newer one is dropped), so the recorded offset
  never counts a byte that is not stored;
- at start, a file longer than its recorded offset (a crash between fsync and record) is
  cut back to the recorded offset, never trusted past it;
- a finished upload is hashed over the whole file, compared with the SHA-256 the client
  declared, then bound to (case, client image id) — the upload row keeps the server's
  photo id so a lost final reply is recovered by HEAD;
- partial uploads expire (default 30 days: devices stay offline for weeks) and are then
  removed, rows and files.
Blocking file work runs in worker threads (`asyncio.to_thread`), never on the event loop.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kycdesk_server.blobs import LocalPartialBytes, PartialBytes, Writer
from kycdesk_server.database import Database

Chunks = Callable[[str], list[tuple[int, int]]]


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Upload:
    id: str
    case_id: str
    client_image_id: str
    sha256: str
    length: int
    offset: int
    created_at: str
    touched_at: str   # created, or last written to: expiry counts from here
    server_image_id: str | None
    metadata: str
    expires_at: str   # touched_at + the server's configured expiry

    @property
    def complete(self) -> bool:
        return self.server_image_id is not None

    def expired(self, now: datetime) -> bool:
        return datetime.fromisoformat(self.expires_at.replace("Z", "+00:00")) <= now


class UploadStore:
    def __init__(self, root: Path, db: Database, *,
                 parts: Callable[[Chunks], PartialBytes] | None = None,
                 expire_after: timedelta = timedelta(days=30)) -> None:
        self.db = db
        # The byte store may need to know an upload's recorded chunks (S3): ours.
        self.parts: PartialBytes = parts(self.chunks) if parts is not None \
            else LocalPartialBytes(root / "uploads")
        self._chunked = not isinstance(self.parts, LocalPartialBytes)
        self.expire_after = expire_after  # the table is made by the store's schema
        self._repair()

    # -- rows ---------------------------------------------------------------------------
    def get(self, upload_id: str) -> Upload | None:
        row = self.db.execute(
            "SELECT id, case_id, client_image_id, sha256, length, \"offset\", created_at, "
            "touched_at, server_image_id, metadata FROM uploads WHERE id = ?",
            (upload_id,)).fetchone()
        if row is None:
            return None
        touched = datetime.fromisoformat(str(row[7]).replace("Z", "+00:00"))
        return Upload(id=row[0], case_id=row[1], client_image_id=row[2], sha256=row[3],
                      length=int(row[4]), offset=int(row[5]), created_at=row[6],
                      touched_at=row[7], server_image_id=row[8], metadata=row[9],
                      expires_at=_iso(touched + self.expire_after))

    def create(self, *, case_id: str, client_image_id: str, sha256: str, length: int,
               metadata: str) -> Upload:
        upload_id = secrets.token_hex(16)
        now = datetime.now(UTC)
        self.parts.create(upload_id)
        self.db.execute(
            "INSERT INTO uploads(id, case_id, client_image_id, sha256, length, \"offset\", "
            "created_at, touched_at, metadata) VALUES (?,?,?,?,?,0,?,?,?)",
            (upload_id, case_id, client_image_id, sha256, length, _iso(now), _iso(now),
             metadata))
        upload = self.get(upload_id)
        assert upload is not None
        return upload

    def record(self, upload_id: str, start: int, offset: int) -> bool:
        """The bytes [start, offset) are stored: count them — only if the upload is still
        at `start` (another request may have moved it on). Any write also extends the
        expiry: an upload making progress never expires under the device."""
        with self.db.transaction():
            moved = self.db.execute(
                "UPDATE uploads SET \"offset\" = ?, touched_at = ? "
                "WHERE id = ? AND \"offset\" = ?",
                (offset, _iso(datetime.now(UTC)), upload_id, start)).rowcount
            if moved != 1:
                return False
            if self._chunked:
                self.db.execute("INSERT INTO upload_chunks(upload_id, start, length) "
                                "VALUES (?, ?, ?)", (upload_id, start, offset - start))
        return True

    def chunks(self, upload_id: str) -> list[tuple[int, int]]:
        rows = self.db.execute("SELECT start, length FROM upload_chunks WHERE upload_id = ? "
                               "ORDER BY start", (upload_id,)).fetchall()
        return [(int(start), int(length)) for start, length in rows]

    def mark_complete(self, upload_id: str, server_image_id: str) -> None:
        self.db.execute("UPDATE uploads SET server_image_id = ? WHERE id = ?",
                        (server_image_id, upload_id))

    def delete(self, upload_id: str) -> None:
        self.parts.discard(upload_id)
        with self.db.transaction():
            self.db.execute("DELETE FROM upload_chunks WHERE upload_id = ?", (upload_id,))
            self.db.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))

    # -- bytes --------------------------------------------------------------------------
    def open_writer(self, upload: Upload) -> Writer:
        """Appends at the recorded offset (bytes past it were never counted)."""
        return self.parts.open_writer(upload.id, upload.offset, self.record)

    def assemble(self, upload: Upload, folder: Path) -> tuple[Path, str]:
        """The whole upload as one local file, and its SHA-256."""
        return self.parts.assemble(upload.id, upload.length, folder)

    def release(self, upload_id: str) -> None:
        """The photo is held: the partial bytes and their records can go."""
        self.parts.discard(upload_id)
        self.db.execute("DELETE FROM upload_chunks WHERE upload_id = ?", (upload_id,))

    # -- housekeeping -------------------------------------------------------------------
    def _repair(self) -> None:
        """At start: partial bytes cut back to their recorded offsets, strays removed."""
        rows = self.db.execute('SELECT id, "offset" FROM uploads '
                               "WHERE server_image_id IS NULL").fetchall()
        for upload_id in self.parts.repair({str(r[0]): int(r[1]) for r in rows}):
            self.db.execute('UPDATE uploads SET "offset" = 0 WHERE id = ?', (upload_id,))

    def expire(self, now: datetime | None = None) -> int:
        """Remove uploads whose time has passed; returns how many."""
        cutoff = _iso((now or datetime.now(UTC)) - self.expire_after)
        rows = self.db.execute("SELECT id FROM uploads WHERE touched_at <= ?",
                               (cutoff,)).fetchall()
        for (upload_id,) in rows:
            self.delete(upload_id)
        return len(rows)

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM uploads").fetchone()[0])
