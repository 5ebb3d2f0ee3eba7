"""Settings: server address and device token (or a one-time enrolment code, traded for
the device's own credential on Save), with "Test connection".

The address and the profile go to the settings (`kycdesk.settings`); the token is handed
on with `saved` and the app keeps it sealed in the signed-in verifier's registry record
(`sync.credentials`, the one module that touches secrets: never the settings, never the
database, never in clear). Test connection and
enrolment are background tasks (`kycdesk.background`): the window stays responsive while
they wait, and a closed dialog drops their answer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kycdesk.background import Task, run_task
from kycdesk.core.errors import FailureKind
from kycdesk.core.protocol import EnrolledDevice, Health
from kycdesk.settings import (
    CA_BUNDLE,
    EMPLOYEE_ID,
    IDLE_LOCK_MINUTES,
    KIOSK_MODE,
    SERVER_URL,
    VERIFIER_NAME,
    Settings,
)
from kycdesk.sync.errors import SyncError
from kycdesk.sync.server_url import url_problem
from kycdesk.views.style import TOUCH

# (server url, token, CA bundle or None) -> the server's health; raises SyncError. The
# app passes the sync client's check: views do not import the HTTP client. It blocks:
# the dialog runs it as a background task, never in the GUI thread.
ConnectionCheck = Callable[[str, str, str | None], Health]
# (server url, enrolment code, CA bundle or None) -> this device's credential (blocks).
EnrolDevice = Callable[[str, str, str | None], EnrolledDevice]


class SettingsDialog(QDialog):
    saved = Signal(str, str, str)  # server url, token, CA bundle path ("" = system CAs)

    def __init__(self, settings: Settings, check: ConnectionCheck,
                 parent: QWidget | None = None, *, enrol: EnrolDevice | None = None,
                 token: str = "") -> None:
        """`token`: the one the signed-in verifier keeps (the app looks it up)."""
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self._check = check
        self._enrol = enrol
        url = settings.get(SERVER_URL)
        self.url = QLineEdit(url, self)
        self.url.setPlaceholderText("https://kyc.example.org")
        self.url.setMinimumHeight(TOUCH)
        self.token = QLineEdit(self)
        self.token.setEchoMode(QLineEdit.EchoMode.Password)
        self.token.setMinimumHeight(TOUCH)
        self.token.setText(token)
        self.code = QLineEdit(self)
        self.code.setPlaceholderText("ABCD-EFGH-JKLM, from your administrator")
        self.code.setMinimumHeight(TOUCH)
        self.code.setToolTip("A new device: enter the one-time code instead of a token; "
                             "Save enrols this device and keeps its credential.")
        self.code.setVisible(enrol is not None)
        self.ca_bundle = QLineEdit(settings.get(CA_BUNDLE), self)
        self.ca_bundle.setPlaceholderText("(the system's certificates)")
        self.ca_bundle.setMinimumHeight(TOUCH)
        self.ca_bundle.setToolTip("Only for a server whose certificate comes from your "
                                  "organisation's own authority: a PEM file")
        self.verifier_name = QLineEdit(settings.get(VERIFIER_NAME), self)
        self.verifier_name.setMinimumHeight(TOUCH)
        self.verifier_name.setPlaceholderText("as it appears on your declarations")
        self.employee_id = QLineEdit(settings.get(EMPLOYEE_ID), self)
        self.employee_id.setMinimumHeight(TOUCH)
        self.employee_id.setPlaceholderText("V12345")
        self.test_button = QPushButton("Test connection", self)
        self.test_button.setMinimumHeight(TOUCH)
        self.test_button.clicked.connect(self._test_clicked)
        self.result_label = QLabel("", self)
        self.result_label.setObjectName("connection-result")
        self.result_label.setWordWrap(True)
        self.setMinimumWidth(560)  # long messages wrap; the form keeps its shape
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Server address", self.url)
        if enrol is not None:
            form.addRow("Enrolment code", self.code)
        form.addRow("Device token", self.token)
        form.addRow("CA certificates", self.ca_bundle)
        form.addRow("Your name (verifier)", self.verifier_name)
        form.addRow("Your employee ID", self.employee_id)
        # The lock: how long the tablet may sit untouched; kiosk mode for the applicant.
        self.idle_minutes = QDoubleSpinBox(self)
        self.idle_minutes.setObjectName("idle-minutes")
        self.idle_minutes.setMinimumHeight(TOUCH)
        self.idle_minutes.setRange(IDLE_LOCK_MINUTES.low or 0.05,
                                   IDLE_LOCK_MINUTES.high or 240.0)
        self.idle_minutes.setDecimals(1)
        self.idle_minutes.setSuffix(" min")
        self.idle_minutes.setValue(settings.get(IDLE_LOCK_MINUTES))
        self.idle_minutes.setToolTip("No touch or key this long: kycdesk locks and asks "
                                     "for your PIN (your work is kept)")
        self.kiosk = QCheckBox("Full screen on the open case; leaving it needs your PIN "
                               "(for the applicant's part)", self)
        self.kiosk.setObjectName("kiosk-mode")
        self.kiosk.setChecked(settings.get(KIOSK_MODE))
        form.addRow("Lock after", self.idle_minutes)
        form.addRow("Kiosk mode", self.kiosk)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.test_button)
        layout.addWidget(self.result_label)
        layout.addWidget(buttons)
        self._task: Task[Health, None] | None = None
        self._save_task: Task[EnrolledDevice, None] | None = None
        self.finished.connect(self._drop_tasks)

    @Slot()
    def _drop_tasks(self) -> None:
        """Closed: an answer still on its way has no dialog to show it in."""
        for task in (self._task, self._save_task):
            if task is not None:
                task.cancel()

    @Slot()
    def _test_clicked(self) -> None:
        self.test_connection()

    def test_connection(self) -> Task[Health, None]:
        """Start the check; the answer lands in `result_label` (and re-enables the button)."""
        self.test_button.setEnabled(False)
        self.result_label.setText("Testing…")
        check, url, token, ca = (self._check, self.url.text().strip(),
                                 self.token.text().strip(), self._ca_bundle())
        self._task = run_task(lambda _control: check(url, token, ca), self._tested,
                              on_error=self._test_failed, name="connection check")
        return self._task

    def _tested(self, health: Health) -> None:
        self.test_button.setEnabled(True)
        when = health.server_time.strftime("%Y-%m-%d %H:%M")
        self.result_label.setText(f"Connected. Server time {when} UTC, API version "
                                  f"{health.api_version}.")

    def _test_failed(self, error: Exception) -> None:
        self.test_button.setEnabled(True)
        if (isinstance(error, SyncError) and error.kind is FailureKind.AUTH
                and not self.token.text().strip()):
            # Asked without a token: the server answered, it only does not know us yet.
            self.result_label.setText(
                "The server answers. This device is not enrolled yet: Save enrols it with "
                "the code." if self.code.text().strip() else
                "The server answers, but it needs this device's token or an enrolment "
                "code.")
            return
        self.result_label.setText(f"Not connected: {_explain(error)}")
        _raise_if_bug(error)

    def _ca_bundle(self) -> str | None:
        return self.ca_bundle.text().strip() or None

    @Slot()
    def save(self) -> None:
        url = self.url.text().strip().rstrip("/")
        if (refused := url_problem(url)) is not None:
            self.result_label.setText(refused)
            return
        ca_bundle = self._ca_bundle() or ""
        if ca_bundle and not Path(ca_bundle).is_file():
            self.result_label.setText(f"The certificate file {ca_bundle} does not exist.")
            return
        if self.code.text().strip() and self._enrol is not None:
            self.enrol_then_save()
            return
        self._store(url, self.token.text().strip(), ca_bundle)

    def enrol_then_save(self) -> Task[EnrolledDevice, None]:
        """Trade the enrolment code for this device's credential, then save with it."""
        assert self._enrol is not None
        enrol, url, code, ca = (self._enrol, self.url.text().strip().rstrip("/"),
                                self.code.text().strip(), self._ca_bundle())
        self.result_label.setText("Enrolling this device…")
        self.setEnabled(False)
        self._save_task = run_task(lambda _control: enrol(url, code, ca),
                                   lambda enrolled: self._enrolled(url, enrolled),
                                   on_error=self._enrol_failed, name="enrolment")
        return self._save_task

    def _enrolled(self, url: str, enrolled: EnrolledDevice) -> None:
        self.setEnabled(True)
        self.code.clear()
        self.token.setText(enrolled.credential)
        self._store(url, enrolled.credential, self._ca_bundle() or "")

    def _enrol_failed(self, error: Exception) -> None:
        self.setEnabled(True)
        self.result_label.setText(f"Not enrolled: {_explain(error)}")
        _raise_if_bug(error)

    def _store(self, url: str, token: str, ca_bundle: str) -> None:
        self.settings.set(SERVER_URL, url)
        self.settings.set(CA_BUNDLE, ca_bundle)
        self.settings.set(IDLE_LOCK_MINUTES, float(self.idle_minutes.value()))
        self.settings.set(KIOSK_MODE, self.kiosk.isChecked())
        # The verifier's profile prefills the declaration of new cases (not a secret).
        self.settings.set(VERIFIER_NAME, self.verifier_name.text().strip())
        self.settings.set(EMPLOYEE_ID, self.employee_id.text().strip().upper())
        # The token goes on to the app, which keeps it sealed for the signed-in verifier.
        self.saved.emit(url, token, ca_bundle)
        self.accept()


def _explain(error: Exception) -> str:
    """A SyncError's message is in the verifier's words; anything else is a bug."""
    return str(error) if isinstance(error, SyncError) else \
        "an unexpected error occurred; details are in the log."


def _raise_if_bug(error: Exception) -> None:
    """A bug goes on to the app's one background-error handler (the traceback, logged)."""
    if not isinstance(error, SyncError):
        raise error
