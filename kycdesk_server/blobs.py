"""Where the bytes live: the photos the server holds, and the partial uploads.

Two implementations with the same behaviour (the server contract suite runs on both):
- local files (the embedded back end): `images/<case>/<image>` written temp -> fsync ->
  rename; a partial upload is one file `uploads/<id>.part`, appended and fsynced;
- S3-compatible object storage (a fleet: AWS, MinIO, Ceph RGW, SeaweedFS): a photo is the
  object `photos/<case>/<image>`; a partial upload is a series of chunk objects
  `partial/<id>/<start>` (one per request), recorded in the database after each PUT, so
  any worker continues any upload and no worker keeps upload state on its own disk.

A request's bytes are kept only if its offset can still be recorded where it started
(compare and set in the database): a request overtaken by a newer one (a killed app's
bytes still arriving at another worker) is dropped, never spliced in.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

from kycdesk.core.hashing import file_sha256
from kycdesk_server.errors import StorageUnavailableError, is_disk_full

# (upload id, start, new offset) -> recorded? (False: the upload moved on without us)
Record = Callable[[str, int, int], bool]


@contextlib.contextmanager
def _storage_errors() -> Iterator[None]:
    """The photo storage did not take or give the bytes (down, full, refusing): nothing
    was acknowledged; the client tries again later (503; 507 when the disk is full)."""
    try:
        yield
    except StorageUnavailableError:
        raise
    except Exception as exc:  # OSError, botocore's ClientError/BotoCoreError …
        raise StorageUnavailableError(f"{type(exc).__name__}: {exc}", part="photos",
                                      disk_full=is_disk_full(exc)) from exc


class Writer(Protocol):
    def write(self, data: bytes) -> None: ...

    def close(self, keep: bool) -> bool:
        """Make the bytes durable and record them (keep), or drop them; False if they
        could not be recorded (overtaken)."""
        ...


class PartialBytes(Protocol):
    def create(self, upload_id: str) -> None: ...
    def open_writer(self, upload_id: str, start: int, record: Record) -> Writer: ...

    def assemble(self, upload_id: str, length: int, folder: Path) -> tuple[Path, str]:
        """The whole upload as one local file (in `folder` if it must be fetched) and its
        SHA-256."""
        ...

    def discard(self, upload_id: str) -> None: ...
    def repair(self, offsets: dict[str, int]) -> list[str]: ...


class PhotoBlobs(Protocol):
    def store(self, case_id: str, image_id: str, file: Path) -> str:
        """Hold the photo (consumes `file`); returns where (for the database)."""
        ...

    def read(self, where: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes [start, end) of a held photo (`where` as `store` returned it), in pieces."""
        ...

    def names(self) -> list[str]: ...
    def probe(self) -> None: ...


READ_PIECE = 256 * 1024


# -- local files -------------------------------------------------------------------------
def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _FileWriter:
    def __init__(self, path: Path, upload_id: str, start: int, record: Record) -> None:
        with _storage_errors():
            self.fd = os.open(path, os.O_WRONLY)
            os.ftruncate(self.fd, start)  # bytes past the recorded offset were never counted
            os.lseek(self.fd, start, os.SEEK_SET)
        self.upload_id, self.start, self.offset, self.record = upload_id, start, start, record

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        with _storage_errors():
            while view:
                written = os.write(self.fd, view)
                view = view[written:]
                self.offset += written  # what reached the file, even if the rest did not

    def close(self, keep: bool) -> bool:
        try:
            with _storage_errors():
                if not keep:
                    os.ftruncate(self.fd, self.start)
                os.fsync(self.fd)  # on disk first, then counted
        finally:
            os.close(self.fd)
        return not keep or self.offset == self.start or \
            self.record(self.upload_id, self.start, self.offset)


class LocalPartialBytes:
    def __init__(self, folder: Path) -> None:
        self.dir = folder
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)

    def path(self, upload_id: str) -> Path:
        return self.dir / f"{upload_id}.part"

    def create(self, upload_id: str) -> None:
        with _storage_errors():
            os.close(os.open(self.path(upload_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                             0o600))

    def open_writer(self, upload_id: str, start: int, record: Record) -> Writer:
        return _FileWriter(self.path(upload_id), upload_id, start, record)

    def assemble(self, upload_id: str, length: int, folder: Path) -> tuple[Path, str]:
        path = self.path(upload_id)
        return path, file_sha256(path)

    def discard(self, upload_id: str) -> None:
        self.path(upload_id).unlink(missing_ok=True)

    def repair(self, offsets: dict[str, int]) -> list[str]:
        """At start: files cut back to their recorded offsets, missing ones recreated
        (returned: their offsets go back to 0), strays removed."""
        reset = []
        for upload_id, offset in offsets.items():
            path = self.path(upload_id)
            if not path.exists():
                path.touch(mode=0o600)
                reset.append(upload_id)
            elif path.stat().st_size > offset:
                with path.open("r+b") as fh:
                    fh.truncate(offset)
                    os.fsync(fh.fileno())
        known = {f"{upload_id}.part" for upload_id in offsets}
        for entry in self.dir.iterdir():
            if entry.name not in known:
                entry.unlink(missing_ok=True)
        return reset


class LocalPhotoBlobs:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.images_dir = root / "images"
        self.images_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def store(self, case_id: str, image_id: str, file: Path) -> str:
        folder = self.images_dir / case_id
        final = folder / image_id
        with _storage_errors():
            folder.mkdir(mode=0o700, exist_ok=True)
            file.replace(final)
            fsync_dir(folder)
        return str(final.relative_to(self.root))

    def read(self, where: str, start: int, end: int) -> Iterator[bytes]:
        with _storage_errors(), (self.root / where).open("rb") as file:
            file.seek(start)
            left = end - start
            while left > 0 and (piece := file.read(min(READ_PIECE, left))):
                left -= len(piece)
                yield piece

    def names(self) -> list[str]:
        return sorted(str(p.relative_to(self.images_dir)) for p in self.images_dir.rglob("*")
                      if p.is_file())

    def probe(self) -> None:
        probe = self.root / "tmp" / f"ready-{uuid.uuid4().hex}"
        with _storage_errors():
            try:
                probe.write_bytes(b"ok")
            finally:
                probe.unlink(missing_ok=True)


# -- S3 ------------------------------------------------------------------------------------
class S3Settings:
    def __init__(self, endpoint: str | None, bucket: str, *, region: str = "us-east-1",
                 sse: str | None = None) -> None:
        self.endpoint, self.bucket, self.region, self.sse = endpoint, bucket, region, sse

    def client(self) -> Any:
        import boto3
        from botocore.config import Config

        # Credentials: the standard chain (AWS_ACCESS_KEY_ID/…, a profile, an instance
        # role); never on the command line.
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region,
                            config=Config(retries={"max_attempts": 3, "mode": "standard"}))

    def put_args(self) -> dict[str, str]:
        return {"ServerSideEncryption": self.sse} if self.sse else {}


class _S3Writer:
    def __init__(self, owner: S3PartialBytes, upload_id: str, start: int,
                 record: Record) -> None:
        self.owner, self.upload_id, self.start, self.record = owner, upload_id, start, record
        self.buffer = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
        self.length = 0

    def write(self, data: bytes) -> None:
        self.buffer.write(data)
        self.length += len(data)

    def close(self, keep: bool) -> bool:
        try:
            if not keep or not self.length:
                return True
            self.buffer.seek(0)
            key = self.owner.chunk_key(self.upload_id, self.start)
            with _storage_errors():
                self.owner.s3.put_object(Bucket=self.owner.settings.bucket, Key=key,
                                         Body=self.buffer, **self.owner.settings.put_args())
            if self.record(self.upload_id, self.start, self.start + self.length):
                return True
            self.owner.s3.delete_object(Bucket=self.owner.settings.bucket, Key=key)
            return False  # overtaken: another request recorded this offset first
        finally:
            self.buffer.close()


class S3PartialBytes:
    def __init__(self, settings: S3Settings, chunks: Callable[[str], list[tuple[int, int]]]
                 ) -> None:
        self.settings = settings
        self.s3 = settings.client()
        self._chunks = chunks  # the recorded (start, length) of an upload, in order

    @staticmethod
    def chunk_key(upload_id: str, start: int) -> str:
        return f"partial/{upload_id}/{start:012d}"

    def create(self, upload_id: str) -> None:
        return None  # nothing until the first bytes

    def open_writer(self, upload_id: str, start: int, record: Record) -> Writer:
        return _S3Writer(self, upload_id, start, record)

    def assemble(self, upload_id: str, length: int, folder: Path) -> tuple[Path, str]:
        target = folder / f"{upload_id}.whole"
        digest = hashlib.sha256()
        expected = 0
        with _storage_errors(), target.open("wb") as out:
            for start, size in self._chunks(upload_id):
                if start != expected:
                    raise ValueError(f"upload {upload_id} has a gap at byte {expected}")
                body = self.s3.get_object(Bucket=self.settings.bucket,
                                          Key=self.chunk_key(upload_id, start))["Body"]
                while piece := body.read(1024 * 1024):
                    digest.update(piece)
                    out.write(piece)
                expected += size
        return target, digest.hexdigest()

    def discard(self, upload_id: str) -> None:
        with _storage_errors():
            listed = self.s3.list_objects_v2(Bucket=self.settings.bucket,
                                             Prefix=f"partial/{upload_id}/")
            for item in listed.get("Contents", []):
                self.s3.delete_object(Bucket=self.settings.bucket, Key=item["Key"])

    def repair(self, offsets: dict[str, int]) -> list[str]:
        return []  # chunks count only once recorded; strays go with their upload


class S3PhotoBlobs:
    def __init__(self, settings: S3Settings, root: Path) -> None:
        self.settings = settings
        self.s3 = settings.client()
        self.root = root

    def store(self, case_id: str, image_id: str, file: Path) -> str:
        key = f"photos/{case_id}/{image_id}"
        with _storage_errors(), file.open("rb") as body:
            self.s3.put_object(Bucket=self.settings.bucket, Key=key, Body=body,
                               **self.settings.put_args())
        file.unlink(missing_ok=True)
        return f"s3://{self.settings.bucket}/{key}"

    def read(self, where: str, start: int, end: int) -> Iterator[bytes]:
        if end <= start:
            return
        key = where.removeprefix(f"s3://{self.settings.bucket}/")
        with _storage_errors():
            body = self.s3.get_object(Bucket=self.settings.bucket, Key=key,
                                      Range=f"bytes={start}-{end - 1}")["Body"]
            yield from body.iter_chunks(READ_PIECE)

    def names(self) -> list[str]:
        names: list[str] = []
        token: dict[str, str] = {}
        while True:
            with _storage_errors():
                listed = self.s3.list_objects_v2(Bucket=self.settings.bucket,
                                                 Prefix="photos/", **token)
            names += [item["Key"].removeprefix("photos/") for item in
                      listed.get("Contents", [])]
            if not listed.get("IsTruncated"):
                return sorted(names)
            token = {"ContinuationToken": listed["NextContinuationToken"]}

    def probe(self) -> None:
        with _storage_errors():
            self.s3.head_bucket(Bucket=self.settings.bucket)

