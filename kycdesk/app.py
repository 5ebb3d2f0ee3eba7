"""Wires the app: data-dir lock, writer thread, read connection, models, main window."""

from __future__ import annotations

import asyncio
import logging
import sys

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox

from kycdesk import APP_NAME, __version__
from kycdesk.models.case_list_model import CaseListModel
from kycdesk.paths import DataPaths
from kycdesk.persistence.commands import CreateCase
from kycdesk.persistence.diskspace import space_report
from kycdesk.persistence.errors import StoreError
from kycdesk.persistence.lock import DataDirLock
from kycdesk.persistence.reader import ReadStore
from kycdesk.persistence.recovery import RecoveryReport
from kycdesk.persistence.writer import WriterThread
from kycdesk.views.main_window import MainWindow

log = logging.getLogger(__name__)


class KycDeskApp(QObject):
    """Owns the long-lived parts; GUI-thread object, talks to the writer by signals."""

    fatalError = Signal(str)  # the store cannot be used: show it and quit

    def __init__(self, paths: DataPaths) -> None:
        super().__init__()
        self.paths = paths
        self.lock = DataDirLock(paths.lock_file)
        self.writer_thread: WriterThread | None = None
        self.reader: ReadStore | None = None
        self.model = CaseListModel()
        self.window = MainWindow(self.model)
        self.window.newCaseRequested.connect(self.new_case)
        self.startup_error: str | None = None

    def start(self) -> bool:
        """Take the data-dir lock and start the writer; False (with a message) if the
        store cannot be used."""
        try:
            self.paths.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.lock.acquire()
        except (StoreError, OSError) as exc:
            self.startup_error = str(exc)
            return False
        self.window.show_space_warning(space_report(self.paths.root).message())
        self.writer_thread = WriterThread(self.paths)
        writer = self.writer_thread.client
        writer.opened.connect(self._store_opened)
        writer.openFailed.connect(self._store_failed)
        writer.caseCreated.connect(self._case_created)
        writer.storageStateChanged.connect(self.window.show_storage_state)
        self.writer_thread.start()
        return True

    @Slot(object)
    def _store_opened(self, report: RecoveryReport | None) -> None:
        try:
            self.reader = ReadStore(self.paths)
        except StoreError as exc:
            self._store_failed(str(exc))
            return
        self.model.set_reader(self.reader)
        if report is not None and (report.repairs or report.has_problems):
            self.window.show_status(
                f"Recovered after an unexpected stop: {report.repairs} repair(s)"
                + ("; some photos need attention (run 'kycdesk doctor')"
                   if report.has_problems else ""))

    @Slot(str)
    def _store_failed(self, message: str) -> None:
        self.startup_error = message
        self.fatalError.emit(message)

    @Slot()
    def new_case(self) -> None:
        if self.writer_thread is None:
            return
        self.writer_thread.client.submit(CreateCase())

    @Slot(str)
    def _case_created(self, case_id: str) -> None:
        self.model.refresh()
        self.window.show_status("New case created")

    def shutdown(self) -> None:
        """Flush pending writes (blocking is right at quit), close connections, unlock."""
        if self.writer_thread is not None:
            self.writer_thread.stop()
            self.writer_thread = None
        self.model.set_reader(None)
        if self.reader is not None:
            self.reader.close()
            self.reader = None
        self.lock.release()


def run_app(paths: DataPaths) -> int:
    import qasync  # imported here: headless commands and tests do not need it

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_NAME)
    desk = KycDeskApp(paths)
    if not desk.start():
        QMessageBox.critical(None, "kycdesk cannot start", desk.startup_error or "")
        return 2

    def show_fatal(message: str) -> None:
        QMessageBox.critical(desk.window, "kycdesk cannot open its data", message)
        QApplication.quit()

    desk.fatalError.connect(show_fatal)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    desk.window.show()
    try:
        code = int(loop.run_forever() or 0)
    finally:
        desk.shutdown()
        loop.close()
    return code if desk.startup_error is None else 2
