"""Cases the office sent a device, made the way a real pull makes them: pull pages built
from `kycdesk.core.protocol` models, applied by the store's own `ApplyPull` (the command
the sync worker's `apply_pull` runs). Shared by the UI tests and tools/two_way_screens.py.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from kycdesk.core.protocol import FieldComment, PulledChange, PullReply
from kycdesk.core.states import Change
from kycdesk.demo import DEMO_FORM_ID, DEMO_FORM_VERSION, demo_form
from kycdesk.persistence.commands import AppendEdit, ApplyPull, SaveForm, Transition
from kycdesk.persistence.store import LocalStore

LATEST_VERSION = "3"  # the newest shipped form: an assigned case opens without a migration
OFFICE = "S. Mensah (office)"
REVIEWER = "R. Patel (reviewer)"
SEQ = itertools.count(1)  # one feed: every change after the last
_seq = SEQ


def at(day_offset: int = 0, hour: int = 9) -> str:
    day = date.today() + timedelta(days=day_offset)
    return f"{day.isoformat()}T{hour:02d}:00:00.000Z"


def pull(store: LocalStore, *changes: PulledChange) -> int:
    """Apply one page (and its token) as the sync worker would; returns changes applied."""
    reply = PullReply(token=f"t{uuid.uuid4().hex[:8]}", changes=list(changes), more=False)
    return store.run(ApplyPull(reply, False)).changes


def assigned(*, due_in_days: int | None, seed: int, note: str = "",
             prefilled: tuple[str, ...] = ("applicant.first_name", "applicant.last_name",
                                           "address.line1", "address.city",
                                           "address.postal_code")) -> PulledChange:
    import random

    reference, form, _city = demo_form(random.Random(seed))
    prefill = {key: form[key] for key in prefilled}
    return PulledChange(
        seq=next(_seq), kind="assigned", case_id=str(uuid.uuid4()),
        at=at(-1), by=OFFICE, reference_number=reference,
        applicant_name=f"{form['applicant.first_name']} {form['applicant.last_name']}",
        due_date=None if due_in_days is None
        else (date.today() + timedelta(days=due_in_days)).isoformat(),
        form_id=DEMO_FORM_ID, form_version=LATEST_VERSION, form=prefill,
        prefilled=list(prefill), note=note)


def returned(case_id: str, revision: int, comments: list[FieldComment],
             note: str = "") -> PulledChange:
    return PulledChange(seq=next(_seq), kind="returned", case_id=case_id,
                        at=at(0, 8), by=REVIEWER, revision=revision, comments=comments,
                        decision="returned", note=note)


def comment(text: str, *, field_key: str | None = None,
            client_image_id: str | None = None) -> FieldComment:
    return FieldComment(field_key=field_key, client_image_id=client_image_id, text=text,
                        author=REVIEWER, at=at(0, 8))


def decided(case_id: str, revision: int, decision: str, *, reason_code: str | None = None,
            reason_label: str | None = None, note: str = "") -> PulledChange:
    return PulledChange(seq=next(_seq), kind="decided", case_id=case_id,
                        at=at(0, 10), by=REVIEWER, revision=revision,
                        decision=decision,  # type: ignore[arg-type]
                        reason_code=reason_code, reason_label=reason_label, note=note)


def office_edit(case_id: str, field_key: str, value: Any, base_value: Any) -> PulledChange:
    return PulledChange(seq=next(_seq), kind="office_edit", case_id=case_id,
                        at=at(0, 11), by=OFFICE, field_key=field_key, value=value,
                        base_value=base_value, note="Corrected from the bank's records")


def type_answer(store: LocalStore, case_id: str, key: str, value: Any) -> None:
    """The verifier types an answer (written ahead, then saved, as the editor does)."""
    store.run(AppendEdit(case_id, key, value))
    case = store.load_case(case_id)
    store.run(SaveForm(case_id, case.form, case.form_version or DEMO_FORM_VERSION,
                       None, None))


def submit_and_sync(store: LocalStore, case_id: str) -> int:
    """Submitted and accepted by the server: the revision the office reviews."""
    store.run(Transition(case_id, Change.SUBMIT))
    revision = store.load_sync_case(case_id).revision
    store.run(Transition(case_id, Change.SYNCED, revision=revision,
                         receipt={"receipt_id": f"r-{case_id[:8]}", "revision": revision,
                                  "server_image_ids": []}))
    return revision


@dataclass(frozen=True)
class Desk:
    """The cases a seeded device holds, by what they show."""

    assigned: list[str]     # soonest due first; the first is overdue
    returned: str           # comments at two fields and at a photo
    photo_commented: str    # the client image id the photo comment is about
    conflict: str           # an assigned case whose prefilled last name both sides changed
    approved: str
    rejected: str


def seed(store: LocalStore, synced_cases: list[str]) -> Desk:
    """Needs four SYNCED cases with photos (e.g. from `kycdesk.demo.generate`)."""
    later = assigned(due_in_days=5, seed=3, note="Ground-floor flat; ring twice.")
    overdue = assigned(due_in_days=-2, seed=1, note="The applicant works nights: call first.")
    tomorrow = assigned(due_in_days=1, seed=2)
    clash = assigned(due_in_days=3, seed=4)
    pull(store, later, overdue, tomorrow, clash)
    assert clash.case_id is not None
    # The verifier corrects the prefilled last name; the office corrects it too.
    base = clash.form["applicant.last_name"]
    type_answer(store, clash.case_id, "applicant.last_name", base + "-Ade")
    pull(store, office_edit(clash.case_id, "applicant.last_name", base + "-Adeyemi", base))

    back, approved, rejected = synced_cases[:3]
    photo = store.list_images(back)[0]
    revision = store.load_sync_case(back).revision
    pull(store, returned(back, revision, [
        comment("The email address bounces: please check it with the applicant.",
                field_key="applicant.email"),
        comment("The date of birth does not match the ID document.",
                field_key="applicant.date_of_birth"),
        comment("Glare over the photo and the date of birth: retake it in the shade.",
                client_image_id=photo.client_image_id),
        comment("Everything else is in order."),
    ]))
    pull(store,
         decided(approved, store.load_sync_case(approved).revision, "approved",
                 note="Verified against the electoral roll."),
         decided(rejected, store.load_sync_case(rejected).revision, "rejected",
                 reason_code="document_expired",
                 reason_label="The identity document had expired",
                 note="Ask for a valid passport if the applicant applies again."))
    ids = [c.case_id for c in (overdue, tomorrow, clash, later)]
    assert all(ids)
    return Desk(assigned=[i for i in ids if i], returned=back,
                photo_commented=photo.client_image_id, conflict=clash.case_id,
                approved=approved, rejected=rejected)
