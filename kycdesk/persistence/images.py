"""The image store: photos as files in the case folder, rows in case_images.

Add:    read into memory hashing as we go -> check the bytes -> write them ENCRYPTED to
        `.img_<uuid>.tmp` -> fsync file (`prepare_image`, any thread) -> rename to
        `img_<n>.<ext>` -> fsync folder -> insert row + audit event in one transaction
        (`commit_image`, the writer). The recorded SHA-256/size are the plaintext's; no
        clear copy is ever written (`encrypted_files`).
        A crash before the rename leaves a .tmp (removed at startup); between rename and
        commit, an unreferenced img file (moved to lost+found at startup, never deleted).
Delete: rename the file to `.del_<name>` (tombstone) -> fsync folder -> delete row +
        event (one transaction) -> unlink the tombstone. At startup a tombstone whose row
        still exists is renamed back (the delete never happened), otherwise removed.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize

from kycdesk.core.clock import format_instant, now_text
from kycdesk.core.errors import (
    ImageNotFoundError,
    ImageRejectedError,
    ImageRejectionKind,
    StorageUnavailableError,
    StoreError,
)
from kycdesk.core.ids import new_id, validate_case_id, validate_image_id
from kycdesk.core.records import ImageRecord, Location
from kycdesk.paths import DataPaths, ensure_private_dir
from kycdesk.persistence import intents, sealed
from kycdesk.persistence.cases import require_draft
from kycdesk.persistence.db import Connection
from kycdesk.persistence.diskspace import has_room_for
from kycdesk.persistence.encrypted_files import (
    EncryptedFileWriter,
    TamperedDataError,
    decrypted_chunks,
    photo_context,
    plain_size,
)
from kycdesk.persistence.events import append_event
from kycdesk.persistence.exif import ExifFacts, read_exif
from kycdesk.persistence.files import fsync_dir, rename_no_clobber, unlink_quietly
from kycdesk.persistence.image_memory import BytesImageReader, encode_jpeg
from kycdesk.persistence.imagecheck import (
    ImageInfo,
    ImageLimits,
    StructureTracker,
    check_byte_size,
    check_file_size,
    probe,
)
from kycdesk.persistence.orientation import pending_turn, turned
from kycdesk.persistence.places import with_place
from kycdesk.persistence.thumbnails import thumbnail_file, write_thumbnail
from kycdesk.security.streams import encrypted_size
from kycdesk.security.vault import Vault

IMAGE_COLUMNS = (
    "id, case_id, client_image_id, file_path, slot, sha256, byte_size, mime, width, height, "
    "latitude, longitude, accuracy, address, captured_at, source, synced, server_image_id, "
    "upload_url, upload_offset, captured_at_source, address_source, photo_sealed"
)

# A photo's sealed facts (case_images and photos_to_fetch: `photo_sealed`): its SHA-256
# (it confirms possession of a known document) and where it was taken.
PHOTO_FACTS = ("sha256", "latitude", "longitude", "accuracy", "address")
PHOTO_FACT_COLUMNS = "photo_sealed, " + ", ".join(PHOTO_FACTS)


def seal_photo_facts(conn: Connection, table: str, case_id: str, client_image_id: str,
                     facts: dict[str, Any]) -> bytes:
    return sealed.seal_document(conn, table, {name: facts.get(name) for name in PHOTO_FACTS},
                                case_id=case_id, key=client_image_id)


def photo_facts(conn: Connection, table: str, case_id: str, client_image_id: str | None,
                row: Sequence[Any]) -> dict[str, Any]:
    """A photo row's facts by `PHOTO_FACTS` name. `row`: its photo_sealed column, then its
    clear columns in `PHOTO_FACTS` order (`PHOTO_FACT_COLUMNS`), read for a row still in
    clear."""
    return sealed.read_document(conn, table, row[0], case_id=case_id,
                                key=client_image_id or "",
                                clear=lambda: dict(zip(PHOTO_FACTS, row[1:], strict=True)))


def image_from_row(conn: Connection, row: tuple[Any, ...]) -> ImageRecord:
    facts = photo_facts(conn, "case_images", row[1], row[2],
                        (row[22], row[5], row[10], row[11], row[12], row[13]))
    return ImageRecord(
        id=int(row[0]), case_id=row[1], client_image_id=row[2], file_path=row[3],
        slot=row[4], sha256=facts["sha256"], byte_size=row[6], mime=row[7], width=row[8],
        height=row[9],
        location=Location(latitude=facts["latitude"], longitude=facts["longitude"],
                          accuracy=facts["accuracy"], address=facts["address"],
                          address_source=row[21]),
        captured_at=row[14], source=row[15], synced=bool(row[16]), server_image_id=row[17],
        upload_url=row[18], upload_offset=int(row[19] or 0), captured_at_source=row[20],
    )

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
REENCODE_QUALITY = 90
TMP_PREFIX = ".img_"
TMP_SUFFIX = ".tmp"
TOMBSTONE_PREFIX = ".del_"
IMAGE_NAME = re.compile(r"^img_(\d+)\.[A-Za-z0-9]+$")


def _read_source(vault: Vault, source: Path, source_context: bytes | None,
                 tracker: StructureTracker) -> tuple[bytes, str]:
    """The offered photo's bytes in memory, walked by `tracker` and hashed as they come.
    A clear file (chosen by the verifier, e.g. from a memory card) is read as it is; our
    own file in flight (a camera capture, an archive's photo: `source_context`) is
    decrypted. Everything after this judges these bytes, never the source again (it may
    change or vanish)."""
    digest = hashlib.sha256()
    if source_context is None:
        data = source.read_bytes()  # one read (its size was checked): no growing buffer
        pieces: Iterator[bytes] = (data[i:i + CHUNK] for i in range(0, len(data), CHUNK))
    else:
        parts = list(decrypted_chunks(vault, source, source_context))
        data = b"".join(parts)
        pieces = iter(parts)
    for piece in pieces:
        digest.update(piece)
        tracker.feed(piece)
    return data, digest.hexdigest()


def _used_numbers(conn: Connection, case_id: str, case_dir: Path) -> int:
    """Highest img number in use by a row or a file (incl. tombstones) of the case.
    Rows count too: a row whose file went missing must never get a new file under it."""
    highest = 0
    for (file_path,) in conn.query_all(
            "SELECT file_path FROM case_images WHERE case_id = ?", (case_id,)):
        match = IMAGE_NAME.match(Path(file_path or "").name)
        if match:
            highest = max(highest, int(match.group(1)))
    if case_dir.is_dir():
        for entry in os.scandir(case_dir):
            name = entry.name.removeprefix(TOMBSTONE_PREFIX)
            match = IMAGE_NAME.match(name)
            if match:
                highest = max(highest, int(match.group(1)))
    return highest


@dataclass(frozen=True)
class PreparedImage:
    """A validated, hashed, fsynced copy waiting under its temp name for the writer."""

    case_id: str
    tmp: Path
    sha256: str
    byte_size: int
    info: ImageInfo
    exif: ExifFacts
    resized_from: tuple[int, int] | None = None  # the original's size, if re-encoded
    source_mtime: str | None = None  # the offered file's modification time (UTC ISO)
    intent: Path | None = None  # the journal entry naming this import (see intents)
    # The photo's position with its place words, found here on the import thread (the
    # first lookup loads the places file); the commit uses it if the position is the one
    # it records.
    located: Location | None = None

    def discard(self) -> None:
        """The import will not happen: remove the copy, close the journal entry."""
        unlink_quietly(self.tmp)
        intents.end(self.intent)


def prepare_image(paths: DataPaths, vault: Vault, case_id: str, source: Path, *,
                  limits: ImageLimits | None = None,
                  max_pixels: int | None = None,
                  location: Location | None = None,
                  source_context: bytes | None = None) -> PreparedImage:
    """The slow part of an import (read, hash, decode check, EXIF, encrypt, fsync),
    needing no database: runs on an import worker so the writer keeps acknowledging
    edits. A crash here leaves only a `.tmp` file (encrypted), removed at the next start.
    The photo is checked in memory and written once, encrypted (`encrypted_files`); the
    SHA-256 and size recorded are the plaintext's.

    `source_context`: the source is our own encrypted file in flight (a capture, an
    archive's photo), decrypted on the way; None: a clear file the verifier chose.

    `max_pixels` (the slot's size policy): a larger photo is stored as a re-encoded copy
    of at most that many pixels; that stored file is the evidence and its SHA-256 is what
    syncs. Its EXIF facts (time, place) are read from the original first.

    `location`: the position the caller knows (a capture's GPS); without one, the EXIF
    position. Either is named here (`places.with_place`), off the writer's thread."""
    case_id = validate_case_id(case_id)
    limits = limits or ImageLimits()
    if source_context is None:
        byte_size = check_file_size(source, limits)
    else:
        try:
            byte_size = check_byte_size(plain_size(source), limits)
        except (OSError, TamperedDataError) as exc:
            raise ImageRejectedError(ImageRejectionKind.UNREADABLE,
                                     "The photo could not be read back; take it again.") \
                from exc
    if not has_room_for(paths.root, encrypted_size(byte_size), limits.free_space_reserve):
        raise StorageUnavailableError("There is not enough disk space to add this photo. "
                                      "Free some space and try again.")
    tracker = StructureTracker()
    try:
        data, sha256 = _read_source(vault, source, source_context, tracker)
    except OSError as exc:
        raise StorageUnavailableError(f"The photo could not be copied ({exc.strerror}).") \
            from exc
    except TamperedDataError as exc:
        raise ImageRejectedError(ImageRejectionKind.TRUNCATED,
                                 "The photo was not saved completely; take it again.") \
            from exc
    if tracker.damaged():
        raise ImageRejectedError(
            ImageRejectionKind.UNREADABLE,
            "The photo file is damaged (its structure is broken inside; it is not "
            "merely cut off). Take or export it again.")
    if not tracker.complete():
        raise ImageRejectedError(
            ImageRejectionKind.TRUNCATED,
            "The photo file is incomplete (cut off while it was copied or saved). "
            "Take or export it again.")
    info = probe(data, limits)
    facts = read_exif(data)
    resized_from = None
    if max_pixels is not None and info.width * info.height > max_pixels:
        smaller = reencode_within(data, max_pixels, keep_if_not_smaller=len(data))
        if smaller is not None:  # a policy to save bytes never costs bytes
            resized_from = (info.width, info.height)
            data = smaller
            sha256 = hashlib.sha256(data).hexdigest()
            info = probe(data, limits)
    position = location if location is not None and location.known else (
        Location(facts.latitude, facts.longitude, facts.accuracy)
        if facts.latitude is not None else None)
    located = with_place(position) if position is not None else None
    case_dir = paths.case_dir(case_id)
    tmp = case_dir / f"{TMP_PREFIX}{new_id()}{TMP_SUFFIX}"
    intent = intents.begin(paths.root, "import", case_id)
    try:
        ensure_private_dir(case_dir)
        with EncryptedFileWriter(vault, tmp, photo_context(case_id), hashing=False) as out:
            out.write(data)  # hashed above, as it was walked
            out.finish()
    except OSError as exc:
        unlink_quietly(tmp)
        intents.end(intent)
        raise StorageUnavailableError(f"The photo could not be copied ({exc.strerror}).") \
            from exc
    except BaseException:
        unlink_quietly(tmp)
        intents.end(intent)
        raise
    return PreparedImage(case_id, tmp, sha256, len(data), info, facts, resized_from,
                         _mtime(source) if source_context is None else None, intent,
                         located)


def _mtime(path: Path) -> str | None:
    try:
        moment = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except (OSError, OverflowError, ValueError):
        return None
    return format_instant(moment)


def reencode_within(data: bytes, max_pixels: int, quality: int = REENCODE_QUALITY, *,
                    keep_if_not_smaller: int | None = None) -> bytes | None:
    """An upright JPEG of at most `max_pixels` made from a photo's bytes (in memory).
    With `keep_if_not_smaller` (the original's size), a copy that would not be smaller
    is dropped: None."""
    reader = BytesImageReader(data)
    reader.setAutoTransform(True)  # the copy is stored upright: it carries no EXIF
    size = reader.size()
    scale = math.sqrt(max_pixels / (size.width() * size.height()))
    reader.setScaledSize(QSize(max(1, int(size.width() * scale)),
                               max(1, int(size.height() * scale))))
    image = turned(reader.read(), pending_turn(reader, data))
    if image.isNull():
        raise ImageRejectedError(ImageRejectionKind.UNREADABLE,
                                 f"The photo could not be decoded ({reader.errorString()}).")
    smaller = encode_jpeg(image, quality)
    if smaller is None:
        raise StorageUnavailableError("The smaller copy of the photo could not be made.")
    if keep_if_not_smaller is not None and len(smaller) >= keep_if_not_smaller:
        return None
    return smaller


CAPTURED_AT_SOURCES = ("exif", "camera", "file", "import")


def commit_image(conn: Connection, paths: DataPaths, vault: Vault, prepared: PreparedImage, *,
                 slot: str | None = None, location: Location | None = None,
                 captured_at: str | None = None, origin: str = "import",
                 client_image_id: str | None = None,
                 captured_at_source: str | None = None) -> ImageRecord:
    """The writer's part: pick the number, rename, record. Consumes the temp file
    (renamed into place, or removed if the photo cannot be recorded)."""
    case_id = prepared.case_id
    try:
        client_image_id = validate_image_id(client_image_id) if client_image_id else new_id()
        require_draft(conn, case_id)
    except BaseException:
        prepared.discard()
        raise
    location = location or Location()
    source = "camera" if origin == "camera" else "import"
    if captured_at is not None and origin != "camera":
        source = "import"  # a caller-given time (tests, tools): said as such
    if origin == "import":
        # Imports carry their facts in EXIF. Missing stays missing: a photo without GPS
        # is stored without a location, never a guessed one.
        facts = prepared.exif
        if not location.known and facts.latitude is not None:
            location = Location(facts.latitude, facts.longitude, facts.accuracy,
                                location.address, location.address_source)
        if captured_at is None and facts.captured_at is not None:
            captured_at, source = facts.captured_at, "exif"
        elif captured_at is None and prepared.source_mtime is not None:
            captured_at, source = prepared.source_mtime, "file"
    if captured_at is not None and captured_at_source in CAPTURED_AT_SOURCES:
        source = captured_at_source  # a photo moved between devices keeps its provenance
    located = prepared.located
    if (location.address is None and located is not None
            and (located.latitude, located.longitude) == (location.latitude,
                                                          location.longitude)):
        location = located
    case_dir = paths.case_dir(case_id)
    number = _used_numbers(conn, case_id, case_dir) + 1
    final = case_dir / f"img_{number}.{prepared.info.extension}"
    try:
        rename_no_clobber(prepared.tmp, final)
        fsync_dir(case_dir)
    except OSError as exc:
        # The temp file stays: the writer retries this commit when the disk recovers.
        raise StorageUnavailableError(f"The photo could not be stored ({exc.strerror}).") \
            from exc
    stored_path = paths.relative(final)
    info = prepared.info
    try:
        with conn.transaction():
            require_draft(conn, case_id)
            known = {"sha256": prepared.sha256, "latitude": location.latitude,
                     "longitude": location.longitude, "accuracy": location.accuracy,
                     "address": location.address}
            image_id = conn.insert(
                "INSERT INTO case_images(case_id, file_path, photo_sealed, place_pending, "
                "captured_at, synced, client_image_id, slot, byte_size, "
                "mime, width, height, source, captured_at_source, address_source) "
                "VALUES (?,?,?,?,?,0,?,?,?,?,?,?,?,?,?)",
                (case_id, stored_path,
                 seal_photo_facts(conn, "case_images", case_id, client_image_id, known),
                 1 if place_pending(location) else 0, captured_at or now_text(),
                 client_image_id, slot, prepared.byte_size, info.mime,
                 info.width, info.height, origin, source, location.address_source),
            )
            append_event(conn, case_id, "image_added",
                         {"image_id": image_id, "client_image_id": client_image_id,
                          "slot": slot, "sha256": prepared.sha256, "file": stored_path,
                          "resized_from": prepared.resized_from})
    except StoreError as exc:
        if exc.retryable:
            final.rename(prepared.tmp)  # back under its temp name, for the retry
        else:
            unlink_quietly(final)
            prepared.discard()
        raise
    except BaseException:
        # Not acknowledged: the file is ours alone, remove it rather than orphan it.
        unlink_quietly(final)
        prepared.discard()
        raise
    intents.end(prepared.intent)
    write_thumbnail(vault, final, info.preview)
    return get_image(conn, image_id)


def add_image(conn: Connection, paths: DataPaths, vault: Vault, case_id: str, source: Path, *,
              slot: str | None = None, location: Location | None = None,
              captured_at: str | None = None, origin: str = "import",
              client_image_id: str | None = None,
              limits: ImageLimits | None = None) -> ImageRecord:
    """Prepare and commit in the calling thread (command-line tools, tests)."""
    require_draft(conn, validate_case_id(case_id))
    prepared = prepare_image(paths, vault, case_id, source, limits=limits, location=location)
    try:
        return commit_image(conn, paths, vault, prepared, slot=slot, location=location,
                            captured_at=captured_at, origin=origin,
                            client_image_id=client_image_id)
    finally:
        unlink_quietly(prepared.tmp)  # no-op once it was renamed into place


def place_pending(location: Location) -> bool:
    """A located photo without a place name: the backfill names it
    (`case_images.place_pending`, kept in clear so it is found without opening photos)."""
    return (location.latitude is not None and location.longitude is not None
            and location.address is None and location.address_source is None)


def set_place_words(conn: Connection, words: tuple[tuple[int, str, str], ...]) -> int:
    """Fill `address`/`address_source` of photos that have none yet (one transaction)."""
    changed = 0
    with conn.transaction():
        for image_id, address, source in words:
            try:
                image = get_image(conn, image_id)
            except ImageNotFoundError:
                continue  # deleted since it was read
            if image.location.address is not None or image.location.address_source:
                continue
            facts = {"sha256": image.sha256, "latitude": image.location.latitude,
                     "longitude": image.location.longitude,
                     "accuracy": image.location.accuracy, "address": address}
            blank, values = sealed.emptied("case_images")
            changed += conn.execute(
                f"UPDATE case_images SET photo_sealed = ?, {blank}, address_source = ?, "
                "place_pending = 0 WHERE id = ?",
                (seal_photo_facts(conn, "case_images", image.case_id,
                                  image.client_image_id, facts), *values, source, image_id))
    return changed


def get_image(conn: Connection, image_id: int) -> ImageRecord:
    row = conn.query_one(f"SELECT {IMAGE_COLUMNS} FROM case_images WHERE id = ?", (image_id,))
    if row is None:
        raise ImageNotFoundError(f"Photo {image_id} does not exist.")
    return image_from_row(conn, row)


def list_images(conn: Connection, case_id: str) -> list[ImageRecord]:
    rows = conn.query_all(
        f"SELECT {IMAGE_COLUMNS} FROM case_images WHERE case_id = ? ORDER BY id",
        (validate_case_id(case_id),),
    )
    return [image_from_row(conn, r) for r in rows]


def delete_image(conn: Connection, paths: DataPaths, image_id: int) -> None:
    image = get_image(conn, image_id)
    require_draft(conn, image.case_id)
    final = paths.absolute(image.file_path)
    tombstone = final.with_name(TOMBSTONE_PREFIX + final.name)
    had_file = final.exists()
    intent = intents.begin(paths.root, "delete", image.case_id) if had_file else None
    try:
        if had_file:
            rename_no_clobber(final, tombstone)
            fsync_dir(final.parent)
    except OSError as exc:
        raise StorageUnavailableError(f"The photo could not be deleted ({exc.strerror}).") \
            from exc
    try:
        with conn.transaction():
            conn.execute("DELETE FROM case_images WHERE id = ?", (image_id,))
            append_event(conn, image.case_id, "image_deleted",
                         {"image_id": image_id, "client_image_id": image.client_image_id,
                          "sha256": image.sha256, "file": image.file_path,
                          "file_was_missing": not had_file})
    except BaseException:
        if had_file:
            os.rename(tombstone, final)
        intents.end(intent)
        raise
    if had_file:
        unlink_quietly(tombstone)
    unlink_quietly(thumbnail_file(final))
    intents.end(intent)
