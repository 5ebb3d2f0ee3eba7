"""The server's behaviour as plain classes with typed methods (devices, submissions,
uploads); the HTTP routes (kycdesk_server.routes) only translate requests and answers.
Known refusals are `RequestRefusedError`s; a part that fails is `StorageUnavailableError`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kycdesk_server.services.devices import DeviceService
from kycdesk_server.services.pull import PullService
from kycdesk_server.services.submissions import SubmissionService
from kycdesk_server.services.uploads import UploadService

if TYPE_CHECKING:  # the back office imports the services: a name here only
    from kycdesk_server.backoffice.handovers import HandoverService


@dataclass(frozen=True)
class Services:
    """What the routes call (one set per app; `app.state.services`)."""

    devices: DeviceService
    submissions: SubmissionService
    uploads: UploadService
    pull: PullService
    handovers: HandoverService
