"""The back office's services over one server store, built in one place for the web app
(`register_backoffice`) and the admin commands alike."""

from __future__ import annotations

from dataclasses import dataclass

from kycdesk_server.backoffice.accounts import AccountService
from kycdesk_server.backoffice.assignments import AssignmentService
from kycdesk_server.backoffice.audit import AuditLog
from kycdesk_server.backoffice.device_admin import DeviceAdmin
from kycdesk_server.backoffice.form_publishing import FormPublisher
from kycdesk_server.backoffice.handovers import HandoverService
from kycdesk_server.backoffice.review import ReviewService
from kycdesk_server.backoffice.sealing import Sealer, load_or_create_key
from kycdesk_server.backoffice.sessions import SessionPolicy, SessionStore
from kycdesk_server.devices import DeviceRegistry
from kycdesk_server.storage import ServerStore


@dataclass(frozen=True)
class OfficeServices:
    audit: AuditLog
    sessions: SessionStore
    accounts: AccountService
    review: ReviewService
    assignments: AssignmentService
    handovers: HandoverService
    forms: FormPublisher
    devices: DeviceAdmin

    @classmethod
    def open(cls, store: ServerStore,
             session_policy: SessionPolicy | None = None) -> OfficeServices:
        audit = AuditLog(store.db)
        sessions = SessionStore(store.db, session_policy)
        accounts = AccountService(store.db, Sealer(load_or_create_key(store.root)), audit,
                                  sessions)
        assignments = AssignmentService(store.db, audit, store.forms)
        return cls(audit, sessions, accounts,
                   ReviewService(store.db, audit, store.blobs, forms=store.forms),
                   assignments, HandoverService(store.db, audit, assignments),
                   FormPublisher(store.db, audit, store.forms),
                   DeviceAdmin(DeviceRegistry(store.db), audit))
