"""The case page's two-way additions on a real store: the field history a revision
carried (old → new, when, by, why) and the photos a resubmission added and removed,
labelled by their slots."""

from __future__ import annotations

import uuid
from pathlib import Path

from kycdesk.core.protocol import ClientInfo, FieldHistoryEntry, Submission
from kycdesk_server.backoffice.audit import AuditLog
from kycdesk_server.backoffice.review import ReviewService
from kycdesk_server.services.submissions import SubmissionService
from kycdesk_server.storage import ServerStore
from tests.review_support import FORM, answers, jpeg, submit_to_store


def test_the_case_shows_the_field_history_and_which_photos_changed(tmp_path: Path) -> None:
    store = ServerStore(tmp_path / "data")
    case_id, front, retake = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    submit_to_store(store, tmp_path, case_id, 1, answers(), [(front, jpeg(1), "id_front")])
    submit_to_store(store, tmp_path, case_id, 2, answers(last="Byron"),
                    [(retake, jpeg(2), "id_front")])
    detail = ReviewService(store.db, AuditLog(store.db), store.blobs).case(case_id)
    assert detail.diff is not None
    assert (detail.diff.photos_added, detail.diff.photos_removed) == ([retake], [front])
    assert detail.diff.photos_added_labels == detail.diff.photos_removed_labels != ["id_front"]
    assert detail.history == []  # revision 2 carried none
    history = [FieldHistoryEntry(field_key="applicant.last_name", old=None, new="Lovelace",
                                 at="2026-12-01T10:00:00Z", by="Anna", why="prefilled"),
               FieldHistoryEntry(field_key="applicant.last_name", old="Lovelace",
                                 new="Byron", at="2026-12-02T10:00:00Z", by="Anna",
                                 why="returned", note="as on the passport")]
    body = Submission(revision=3, form=answers(last="Byron"), images=[],
                      client=ClientInfo(app_version="t", device_id="d"), history=history,
                      **FORM)
    SubmissionService(store).accept(case_id, body, "lab-device")
    detail = ReviewService(store.db, AuditLog(store.db), store.blobs).case(case_id)
    assert [(h.label, h.before, h.after, h.by, h.why, h.note) for h in detail.history] == [
        ("Last name", "", "Lovelace", "Anna", "prefilled by the office", ""),
        ("Last name", "Lovelace", "Byron", "Anna", "changed after a return",
         "as on the passport")]
    store.close()
