"""The app with what the office pushed: a form version pulled into the store is the one
new cases take, and the verifier's name from settings is who the field history names."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from kycdesk.paths import DataPaths
from kycdesk.persistence.commands import ApplyPull
from kycdesk.persistence.store import LocalStore
from kycdesk.settings import VERIFIER_NAME, Settings
from tests.desks import started_desk
from tests.pull_pages import Feed, form_change, shipped_form
from tests.vaults import make_vault


def test_new_cases_take_the_pushed_form_and_answers_name_the_verifier(
        qtbot: QtBot, paths: DataPaths) -> None:
    feed = Feed()
    with LocalStore(paths, vault=make_vault()) as store:
        store.run(ApplyPull(feed.page(form_change(
            feed, {**shipped_form(), "version": "9", "title": "Pushed by the office"}))))
    Settings().set(VERIFIER_NAME, "Vera Verifier")
    app = started_desk(qtbot, paths)
    try:
        reader = app.reader
        assert reader is not None
        qtbot.waitUntil(lambda: reader.conn.scalar(
            "SELECT actor FROM pull_position") == "Vera Verifier", timeout=10_000)
        with qtbot.waitSignal(app.caseOpened, timeout=10_000) as opened:
            app.new_case()
        case = reader.load_case(str(opened.args[0]))
        assert case.form_version == "9"
    finally:
        app.shutdown()
