"""Settings → enrolment code in the signed-in app: the verifier's store enrols as its own
device, and what the answer carries is kept in their registry record (real server)."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from kycdesk.app import KycDeskApp
from kycdesk.sync.credentials import VerifierCredential
from tests.sync_support import ServerHandle
from tests.tablets import make_tablet
from tests.test_sync_cli import _issue_code


def test_settings_enrolment_keeps_the_credential_for_the_signed_in_verifier(
        qtbot: QtBot, server: ServerHandle, tmp_path: Path) -> None:
    tablet = make_tablet(tmp_path / "tablet")
    desk = KycDeskApp(tablet.paths, vault=tablet.session.vault, actor=tablet.session.name)
    qtbot.addWidget(desk.window)
    desk.kept_credential = VerifierCredential(tablet.registry, tablet.session)
    enrolled = desk.enrol(server.base_url, _issue_code(server), None)
    assert tablet.registry.credential(tablet.session) == enrolled.credential
    # The office secret and its device id come from servers with issue 18's enrolment
    # answer (helper r's branch); with an older answer only the credential is kept.
    expected = enrolled.device_id if enrolled.office_secret is not None else None
    assert tablet.registry.device_id(tablet.session.verifier_id) == expected
