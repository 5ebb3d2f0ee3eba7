"""A case as a device receives it whole (a handover_in, a resync's case_state): the
answers of its newest revision (or, not yet submitted, the office's prefilled ones) with
the office's later corrections, its photos, the assignment's details and the newest
decision. Also the payloads of a decision (`decided`, `returned`). Plain reads over the
server's database: payloads are the `PulledChange` fields without `seq` and `kind`."""

from __future__ import annotations

import json
from typing import Any

from kycdesk_server.database import Database

_PHOTO_KEYS = ("slot", "latitude", "longitude", "accuracy", "address", "captured_at")


def decision_payload(db: Database, decision_id: str) -> tuple[str, dict[str, Any]]:
    """(kind, payload) of one recorded decision: `returned` with its comments, or
    `decided` with the reason's code and label."""
    row = db.execute(
        "SELECT d.revision, d.decision, d.reason_code, r.label, d.note, d.decided_by_name, "
        "d.decided_at FROM review_decisions d LEFT JOIN review_reason_codes r "
        "ON r.code = d.reason_code WHERE d.id = ?", (decision_id,)).fetchone()
    revision, decision, code, label, note, by, at = row
    past = {"approve": "approved", "reject": "rejected", "return": "returned"}[decision]
    payload: dict[str, Any] = {"at": at, "by": by, "revision": revision,
                               "decision": past, "note": note}
    if past == "returned":
        payload["comments"] = [
            {"field_key": c[0], "client_image_id": c[1], "text": c[2], "author": by,
             "at": c[3]}
            for c in db.execute(
                "SELECT field_key, client_image_id, text, created_at FROM review_comments "
                "WHERE decision_id = ? ORDER BY created_at, id", (decision_id,)).fetchall()]
        return "returned", payload
    if code is not None:
        payload["reason_code"], payload["reason_label"] = code, label or code
    return "decided", payload


def _photos(db: Database, case_id: str, images: list[dict[str, Any]]) -> list[dict[str, Any]]:
    sizes = {str(r[0]): int(r[1]) for r in db.execute(
        "SELECT client_image_id, byte_size FROM images WHERE case_id = ?",
        (case_id,)).fetchall()}
    photos = []
    for image in images:
        if image.get("client_image_id") not in sizes:
            continue  # never offer bytes the server does not hold
        photo = {"client_image_id": image["client_image_id"],
                 "server_image_id": image["server_image_id"], "sha256": image["sha256"],
                 "byte_size": sizes[image["client_image_id"]]}
        photo.update({k: image[k] for k in _PHOTO_KEYS if image.get(k) is not None})
        photos.append(photo)
    return photos


def current_answers(db: Database, case_id: str) -> tuple[int, dict[str, Any]]:
    """(newest revision or 0, answers the server holds now: the revision's, or the
    prefilled ones, with the office's corrections since)."""
    revision, form = 0, {}
    row = db.execute("SELECT revision, body_json FROM submissions WHERE case_id = ?",
                     (case_id,)).fetchone()
    if row is not None:
        revision, form = int(row[0]), dict(json.loads(row[1]).get("form") or {})
    else:
        assigned = db.execute("SELECT prefill_json FROM assignments WHERE case_id = ?",
                              (case_id,)).fetchone()
        if assigned is not None:
            form = dict(json.loads(assigned[0]))
    for key, value in db.execute(
            "SELECT field_key, value_json FROM office_edits WHERE case_id = ? "
            "AND after_revision = ? ORDER BY at, id", (case_id, revision)).fetchall():
        form[str(key)] = json.loads(value)
    return revision, form


def assignment_payload(db: Database, case_id: str) -> dict[str, Any]:
    row = db.execute(
        "SELECT reference, applicant_name, address, form_id, form_version, prefill_json, "
        "due_date, note, created_by_name, created_at FROM assignments WHERE case_id = ?",
        (case_id,)).fetchone()
    if row is None:
        return {}
    prefill = json.loads(row[5])
    payload: dict[str, Any] = {
        "reference_number": row[0], "applicant_name": row[1], "address": row[2],
        "form_id": row[3], "form_version": row[4], "form": prefill,
        "prefilled": sorted(prefill), "note": row[7], "by": row[8], "at": row[9]}
    if row[6]:
        payload["due_date"] = row[6]
    return payload


def snapshot(db: Database, case_id: str) -> dict[str, Any]:
    """Everything a device needs to hold the case (handover_in, case_state)."""
    payload = assignment_payload(db, case_id)
    revision, form = current_answers(db, case_id)
    payload["revision"], payload["form"] = revision, form
    row = db.execute("SELECT body_json FROM submissions WHERE case_id = ?",
                     (case_id,)).fetchone()
    if row is not None:
        body = json.loads(row[0])
        for key in ("form_id", "form_version", "reference_number"):
            if body.get(key) is not None:
                payload[key] = body[key]
        payload["photos"] = _photos(db, case_id, list(body.get("images") or []))
    review = db.execute("SELECT applicant FROM review_cases WHERE case_id = ?",
                        (case_id,)).fetchone()
    if review is not None and review[0] and "applicant_name" not in payload:
        payload["applicant_name"] = review[0]
    newest = db.execute("SELECT id FROM review_decisions WHERE case_id = ? AND revision = ? "
                        "ORDER BY decided_at DESC, id DESC LIMIT 1",
                        (case_id, revision)).fetchone()
    if newest is not None:
        _, decided = decision_payload(db, str(newest[0]))
        for key in ("decision", "reason_code", "reason_label", "comments"):
            if key in decided:
                payload[key] = decided[key]
        if decided.get("note"):
            payload["note"] = decided["note"]
    payload.setdefault("at", "")
    return payload
