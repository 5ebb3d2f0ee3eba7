"""What the sync needs of a photo file, without knowing how it is kept: the store's
photos are encrypted (persistence.encrypted_files), so an upload reads PLAINTEXT from
any offset (a tus resume) and a download writes plaintext into a partial file that can
be resumed. Implemented by `persistence.photo_io`; the sync imports no persistence."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol


class PhotoSource(Protocol):
    """A stored photo as the server receives it."""

    @property
    def name(self) -> str:
        """For messages (the file's name, never the applicant's)."""
        ...

    def size(self) -> int:
        """The photo's size in bytes; OSError if the file is missing."""
        ...

    def read_from(self, offset: int) -> Iterator[bytes]:
        """The photo's bytes from `offset` to its end, authenticated as they are read
        (`security.TamperedDataError` if the file was changed)."""
        ...


class DownloadTarget(Protocol):
    """A photo being fetched: a partial file kept between runs."""

    def resume(self) -> int:
        """Open the partial file for writing; the bytes it already holds (verified),
        which the download continues after."""
        ...

    def restart(self) -> None:
        """Forget what was kept: the server sends the photo from its first byte."""
        ...

    def write(self, data: bytes) -> None: ...

    def finish(self) -> None:
        """All bytes came: the file is made whole and durable."""
        ...

    def close(self) -> None:
        """Cut short: what came stays for the next resume."""
        ...

    def discard(self) -> None:
        """The partial file is of no use (not a prefix of the photo): removed."""
        ...


class PhotoDownload(DownloadTarget, Protocol):
    """One pulled photo's download, from its partial file to its place in the case."""

    def kept(self) -> int:
        """Bytes the partial file holds (an estimate from its length, for progress)."""
        ...

    def whole_sha256(self) -> tuple[str, int] | None:
        """SHA-256 and size of a partial file that is whole; None if it is not (absent,
        cut short, changed)."""
        ...

    def move_into_case(self) -> Path:
        """Rename the whole, verified file into its case folder; where it now is."""
        ...
