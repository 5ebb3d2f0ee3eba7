"""Downloads for the updater over the sync's field transport (kycdesk/sync/transport.py):
the same stall detection (no byte for `stall_s` → the request fails), connect timeout and
run deadline (`LinkWatch`: at the deadline the sockets in flight are shut).

`TufFetcher` serves python-tuf's metadata downloads; `download_resumable` fetches a blob
into `<file>.part`, resuming with an HTTP Range request after a cut or a kill. Only the
transport module of kycdesk.sync is used (httpx/httpcore, no Qt, no store)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from tuf.api import exceptions as tuf_errors
from tuf.ngclient import FetcherInterface

from kycdesk.sync.transport import STALL_S, LinkWatch, field_timeout, field_transport

CHUNK = 64 * 1024


class UpdateLink:
    """One httpx client for a whole update run, with its deadline."""

    def __init__(self, *, stall_s: float = STALL_S, deadline_s: float | None = None,
                 verify: bool | str = True) -> None:
        import ssl

        # First: a CA file that cannot be read fails here, before the deadline's timer runs.
        context: ssl.SSLContext | bool = (ssl.create_default_context(cafile=verify)
                                          if isinstance(verify, str) else verify)
        self.watch = LinkWatch()
        if deadline_s is not None:
            self.watch.end_run_at(time.monotonic() + deadline_s)
        self.client = httpx.Client(transport=field_transport(context, stall_s, self.watch),
                                   timeout=field_timeout(stall_s), follow_redirects=False)

    def close(self) -> None:
        self.client.close()
        self.watch.close()


class TufFetcher(FetcherInterface):
    def __init__(self, link: UpdateLink) -> None:
        self._link = link

    def _fetch(self, url: str) -> Iterator[bytes]:
        try:
            response = self._link.client.send(self._link.client.build_request("GET", url),
                                              stream=True)
        except httpx.HTTPError as exc:
            raise tuf_errors.DownloadError(f"{url}: {exc}") from exc
        if response.status_code != 200:
            response.close()
            raise tuf_errors.DownloadHTTPError(f"{url}: HTTP {response.status_code}",
                                               response.status_code)
        return _chunks(response)


def _chunks(response: httpx.Response) -> Iterator[bytes]:
    try:
        yield from response.iter_bytes(CHUNK)
    except httpx.HTTPError as exc:
        raise tuf_errors.DownloadError(f"{response.url}: {exc}") from exc
    finally:
        response.close()


def download_resumable(link: UpdateLink, url: str, part: Path, length: int,
                       on_bytes: Callable[[int], None] | None = None) -> int:
    """Fetch `url` into `part` until it holds `length` bytes, continuing what an earlier
    run left there. Returns the bytes moved over the network by this call. Every chunk is
    on disk (flushed and fsynced at the end) before the next is asked for."""
    have = part.stat().st_size if part.exists() else 0
    if have > length:  # not this file: start over
        part.unlink()
        have = 0
    moved = 0
    if have == length:
        return 0
    headers = {"Range": f"bytes={have}-"} if have else {}
    try:
        with link.client.stream("GET", url, headers=headers) as response:
            if response.status_code == 200 and have:
                have = 0  # the server ignored the range: the whole file comes again
            elif response.status_code not in (200, 206):
                raise tuf_errors.DownloadHTTPError(f"{url}: HTTP {response.status_code}",
                                                   response.status_code)
            fd = os.open(part, os.O_WRONLY | os.O_CREAT, 0o644)
            try:
                os.lseek(fd, have, os.SEEK_SET)
                os.ftruncate(fd, have)
                # As the bytes arrive (no re-chunking): a cut keeps every byte received.
                for chunk in response.iter_bytes():
                    if have + len(chunk) > length:
                        raise tuf_errors.DownloadLengthMismatchError(
                            f"{url}: longer than the signed length {length}")
                    os.write(fd, chunk)
                    have += len(chunk)
                    moved += len(chunk)
                    if on_bytes is not None:
                        on_bytes(have)
            finally:  # what arrived is kept for the next run, even on a cut
                os.fsync(fd)
                os.close(fd)
    except httpx.HTTPError as exc:  # a stall, the run's deadline, a dropped link
        raise tuf_errors.DownloadError(f"{url}: {str(exc) or type(exc).__name__} after "
                                       f"{have} of {length} bytes") from exc
    if have != length:
        raise tuf_errors.DownloadLengthMismatchError(
            f"{url}: {have} bytes of the signed {length}")
    return moved
