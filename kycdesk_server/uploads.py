"""Resumable uploads (tus) on the embedded store: one row per upload in the server's
SQLite database, the bytes received so far in `uploads/<id>.part`.

What makes it survive a flaky link and a restarted server:
- bytes are appended as they arrive and fsynced when a request ends — however it ends
  (finished, cut, stalled, cancelled) — and only then is the new offset recorded, so the
  recorded offset never counts a byte that is not on disk;
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

import hashlib
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kycdesk_server.database import Database


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
    def __init__(self, root: Path, db: Database, lock: threading.RLock,
                 *, expire_after: timedelta = timedelta(days=30)) -> None:
        self.dir = root / "uploads"
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.db = db
        self._lock = lock
        self.expire_after = expire_after  # the table is made by the store's schema
        self._repair()

    # -- rows ---------------------------------------------------------------------------
    def path(self, upload_id: str) -> Path:
        return self.dir / f"{upload_id}.part"

    def get(self, upload_id: str) -> Upload | None:
        with self._lock:
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
        path = self.path(upload_id)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        with self._lock:
            self.db.execute(
                "INSERT INTO uploads(id, case_id, client_image_id, sha256, length, \"offset\", "
                "created_at, touched_at, metadata) VALUES (?,?,?,?,?,0,?,?,?)",
                (upload_id, case_id, client_image_id, sha256, length, _iso(now), _iso(now),
                 metadata))
        upload = self.get(upload_id)
        assert upload is not None
        return upload

    def record_offset(self, upload_id: str, offset: int) -> None:
        """After the bytes up to `offset` were fsynced. Any write also extends the expiry:
        an upload that is making progress never expires under the device."""
        with self._lock:
            self.db.execute("UPDATE uploads SET \"offset\" = ?, touched_at = ? WHERE id = ?",
                            (offset, _iso(datetime.now(UTC)), upload_id))

    def truncate(self, upload_id: str, offset: int) -> None:
        """Discard bytes past `offset` (a chunk whose checksum did not match)."""
        with self.path(upload_id).open("r+b") as fh:
            fh.truncate(offset)
            fh.flush()
            os.fsync(fh.fileno())

    def mark_complete(self, upload_id: str, server_image_id: str) -> None:
        with self._lock:
            self.db.execute("UPDATE uploads SET server_image_id = ? WHERE id = ?",
                            (server_image_id, upload_id))

    def delete(self, upload_id: str) -> None:
        self.path(upload_id).unlink(missing_ok=True)
        with self._lock:
            self.db.execute("DELETE FROM uploads WHERE id = ?", (upload_id,))

    # -- bytes --------------------------------------------------------------------------
    def open_append(self, upload: Upload) -> int:
        """A descriptor positioned at the recorded offset (bytes past it are dropped)."""
        fd = os.open(self.path(upload.id), os.O_WRONLY)
        os.ftruncate(fd, upload.offset)
        os.lseek(fd, upload.offset, os.SEEK_SET)
        return fd

    @staticmethod
    def write(fd: int, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def sync_close_and_record(self, fd: int, upload_id: str, offset: int | None) -> None:
        """The bytes on disk first, then (if `offset` is given) the offset that counts
        them: the recorded offset never counts a byte that is not on disk."""
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        if offset is not None:
            self.record_offset(upload_id, offset)

    def sha256_of(self, upload_id: str) -> str:
        digest = hashlib.sha256()
        with self.path(upload_id).open("rb") as fh:
            while chunk := fh.read(1024 * 1024):
                digest.update(chunk)
        return digest.hexdigest()

    # -- housekeeping -------------------------------------------------------------------
    def _repair(self) -> None:
        """At start: files cut back to their recorded offsets, strays removed."""
        with self._lock:
            rows = self.db.execute('SELECT id, "offset", server_image_id FROM uploads').fetchall()
        known = set()
        for upload_id, offset, server_image_id in rows:
            known.add(f"{upload_id}.part")
            path = self.path(upload_id)
            if server_image_id is not None:
                continue  # its bytes were moved to the image store
            if not path.exists():
                with self._lock:
                    self.db.execute('UPDATE uploads SET "offset" = 0 WHERE id = ?', (upload_id,))
                path.touch(mode=0o600)
            elif path.stat().st_size > offset:
                with path.open("r+b") as fh:
                    fh.truncate(offset)
                    os.fsync(fh.fileno())
        for entry in self.dir.iterdir():
            if entry.name not in known:
                entry.unlink(missing_ok=True)

    def expire(self, now: datetime | None = None) -> int:
        """Remove uploads whose time has passed; returns how many."""
        cutoff = _iso((now or datetime.now(UTC)) - self.expire_after)
        with self._lock:
            rows = self.db.execute("SELECT id FROM uploads WHERE touched_at <= ?",
                                   (cutoff,)).fetchall()
        for (upload_id,) in rows:
            self.delete(upload_id)
        return len(rows)

    def count(self) -> int:
        with self._lock:
            return int(self.db.execute("SELECT count(*) FROM uploads").fetchone()[0])
