"""The sign-in and lock screen: the verifiers of this tablet as large buttons, the PIN,
the first-use "New verifier" page, the wrong-PIN countdown, the locked and lease-expired
pages with a supervisor's code. It draws `SignInModel` (models/signin.py) and calls its
methods; it never waits: the model's registry calls run in the background."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtGui import QCloseEvent, QKeyEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kycdesk.models.signin import WHY_IT_MATTERS, Door, SignedIn, SignInModel
from kycdesk.views.style import TOUCH

BIG = TOUCH * 2  # a verifier's button: found and hit with a thumb, at arm's length
COLUMN = 520     # the pages' width: short lines, centred on a 1366-px screen


def _secret_field(parent: QWidget, placeholder: str) -> QLineEdit:
    field = QLineEdit(parent)
    field.setEchoMode(QLineEdit.EchoMode.Password)
    field.setMinimumHeight(TOUCH)
    field.setPlaceholderText(placeholder)
    # Not in the input method's memory, not offered again by an on-screen keyboard.
    field.setInputMethodHints(Qt.InputMethodHint.ImhSensitiveData
                              | Qt.InputMethodHint.ImhNoPredictiveText
                              | Qt.InputMethodHint.ImhNoAutoUppercase)
    return field


def _label(text: str, parent: QWidget, role: str | None = None) -> QLabel:
    label = QLabel(text, parent)
    label.setWordWrap(True)
    if role is not None:
        label.setProperty("role", role)
    return label


def _button(text: str, parent: QWidget, name: str) -> QPushButton:
    button = QPushButton(text, parent)
    button.setObjectName(name)
    button.setMinimumHeight(TOUCH)
    return button


def _code_entry(page: QWidget, layout: QVBoxLayout, name: str, label: str,
                on_enter: Callable[[], None]) -> tuple[QLineEdit, QLabel]:
    """A supervisor's code field (grouped as the office shows it) and its answer line."""
    layout.addWidget(_label(label, page))
    field = QLineEdit(page)
    field.setObjectName(name)
    field.setMinimumHeight(TOUCH)
    field.setPlaceholderText("ABCD EFGH JKLM NOPQ")
    field.returnPressed.connect(on_enter)
    layout.addWidget(field)
    message = _label("", page, "error")
    layout.addWidget(message)
    return field, message


def _back_and_primary(page: QWidget, layout: QVBoxLayout, back: QPushButton,
                      primary: QPushButton, on_primary: Callable[[], None]) -> None:
    """The bottom row of a page: back on the left, the page's act on the right; then the
    stretch that keeps the content at the top (the pages share the tallest one's height)."""
    primary.setProperty("role", "primary")
    primary.clicked.connect(on_primary)
    row = QHBoxLayout()
    row.addWidget(back)
    row.addStretch(1)
    row.addWidget(primary)
    layout.addLayout(row)
    layout.addStretch(1)


class SignInScreen(QWidget):
    """A top-level window while nobody is signed in (or the signed-in verifier is
    locked). Closing it quits the app (nothing is open behind it)."""

    quitRequested = Signal()

    def __init__(self, model: SignInModel) -> None:
        super().__init__()
        self.setObjectName("signin-screen")
        self.setWindowTitle("kycdesk — sign in")
        self.model = model
        self.pages = QStackedWidget(self)
        self._starting = self._page_starting()
        self._choose = self._page_choose()
        self._pin = self._page_pin()
        self._new = self._page_new()
        self._locked = self._page_locked()
        self._lease = self._page_lease()
        self._by_door = {
            Door.STARTING: self._starting, Door.CHOOSE: self._choose,
            Door.FIRST_USE: self._new, Door.NEW_VERIFIER: self._new, Door.PIN: self._pin,
            Door.LOCKED: self._locked, Door.LEASE: self._lease,
        }
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        column = QVBoxLayout()
        column.addStretch(1)
        title = QLabel("<h1>kycdesk</h1>", self)
        title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(title)
        column.addWidget(self.pages)
        self.status = _label("", self, "help")
        self.status.setObjectName("signin-status")
        self.status.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(self.status)
        column.addStretch(2)
        self.pages.setFixedWidth(COLUMN)
        outer.addLayout(column)
        outer.addStretch(1)
        model.changed.connect(self.redraw)
        self._drawn_verifiers: list[tuple[str, str, str | None]] = []
        self.redraw()

    # -- pages --------------------------------------------------------------------------
    def _page_starting(self) -> QWidget:
        page = QWidget(self.pages)
        layout = QVBoxLayout(page)
        layout.addWidget(_label("Opening…", page, "help"))
        layout.addStretch(1)  # content at the top: the pages share the tallest one's height
        self.pages.addWidget(page)
        return page

    def _page_choose(self) -> QWidget:
        page = QWidget(self.pages)
        layout = QVBoxLayout(page)
        layout.addWidget(QLabel("<h2>Who is working?</h2>", page))
        layout.addWidget(_label("Tap your name.", page, "help"))
        self.choose_notice = _label("", page, "banner")
        self.choose_notice.setObjectName("choose-notice")
        layout.addWidget(self.choose_notice)
        self.verifier_grid = QGridLayout()
        self.verifier_grid.setSpacing(12)
        layout.addLayout(self.verifier_grid)
        self.new_button = _button("New verifier on this tablet…", page, "new-verifier")
        self.new_button.clicked.connect(self.model.start_new)
        layout.addWidget(self.new_button)
        layout.addStretch(1)  # content at the top: the pages share the tallest one's height
        self.pages.addWidget(page)
        return page

    def _page_pin(self) -> QWidget:
        page = QWidget(self.pages)
        layout = QVBoxLayout(page)
        self.pin_title = QLabel("", page)
        layout.addWidget(self.pin_title)
        self.pin_notice = _label("", page, "help")
        self.pin_notice.setObjectName("pin-notice")
        layout.addWidget(self.pin_notice)
        self.pin = _secret_field(page, "Your PIN or passphrase")
        self.pin.setObjectName("pin")
        self.pin.returnPressed.connect(self._submit_pin)
        layout.addWidget(self.pin)
        self.pin_message = _label("", page, "error")
        self.pin_message.setObjectName("pin-message")
        layout.addWidget(self.pin_message)
        self.countdown = _label("", page, "banner")
        self.countdown.setObjectName("countdown")
        layout.addWidget(self.countdown)
        self.switch_button = _button("Switch verifier", page, "switch-verifier")
        self.switch_button.clicked.connect(self.model.back)
        self.sign_in_button = _button("Sign in", page, "sign-in")
        self.sign_in_button.setDefault(True)
        _back_and_primary(page, layout, self.switch_button, self.sign_in_button,
                          self._submit_pin)
        self.pages.addWidget(page)
        return page

    def _page_new(self) -> QWidget:
        page = QWidget(self.pages)
        layout = QVBoxLayout(page)
        self.new_title = QLabel("<h2>New verifier</h2>", page)
        layout.addWidget(self.new_title)
        self.new_intro = _label("", page)
        layout.addWidget(self.new_intro)
        form = QFormLayout()
        self.new_name = QLineEdit(page)
        self.new_name.setObjectName("new-name")
        self.new_name.setMinimumHeight(TOUCH)
        self.new_name.setPlaceholderText("first name or initials")
        self.new_pin = _secret_field(page, "your new passphrase")
        self.new_pin.setObjectName("new-pin")
        self.new_repeat = _secret_field(page, "the same again")
        self.new_repeat.setObjectName("new-repeat")
        self.new_repeat.returnPressed.connect(self._create)
        form.addRow("Your name", self.new_name)
        form.addRow("Passphrase", self.new_pin)
        form.addRow("Once more", self.new_repeat)
        layout.addLayout(form)
        self.rules = _label("", page, "help")
        self.rules.setObjectName("passphrase-rules")
        self.rules.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.rules)
        self.new_message = _label("", page, "error")
        self.new_message.setObjectName("new-message")
        layout.addWidget(self.new_message)
        self.new_back = _button("Back", page, "new-back")
        self.new_back.clicked.connect(self.model.back)
        self.create_button = _button("Create and sign in", page, "create-verifier")
        _back_and_primary(page, layout, self.new_back, self.create_button, self._create)
        self.pages.addWidget(page)
        return page

    def _page_locked(self) -> QWidget:
        page = QWidget(self.pages)
        layout = QVBoxLayout(page)
        self.locked_title = QLabel("", page)
        layout.addWidget(self.locked_title)
        self.locked_text = _label("", page, "banner-bad")
        self.locked_text.setObjectName("locked-text")
        layout.addWidget(self.locked_text)
        layout.addWidget(_label(
            "Your cases on this tablet are kept. Call your supervisor: they can give you "
            "an unlock code for this tablet, or release it from the office (it takes "
            "effect when another verifier on this tablet syncs).", page, "help"))
        self.release_code, self.locked_message = _code_entry(
            page, layout, "release-code", "Supervisor's unlock code", self._release)
        self.locked_message.setObjectName("locked-message")
        back = _button("Switch verifier", page, "locked-back")
        back.clicked.connect(self.model.back)
        self.release_button = _button("Unlock with the code", page, "release")
        _back_and_primary(page, layout, back, self.release_button, self._release)
        self.pages.addWidget(page)
        return page

    def _page_lease(self) -> QWidget:
        page = QWidget(self.pages)
        layout = QVBoxLayout(page)
        layout.addWidget(QLabel("<h2>Connect to the office</h2>", page))
        self.lease_text = _label("", page, "banner")
        self.lease_text.setObjectName("lease-text")
        layout.addWidget(self.lease_text)
        layout.addWidget(_label(
            "Your PIN was right. This tablet must reach the office's server now and then "
            "to stay open. Connect it (Wi-Fi or mobile data) and try, or ask your "
            "supervisor for a code.", page, "help"))
        self.reach_button = _button("Try to reach the server", page, "reach-server")
        self.reach_button.clicked.connect(self.model.reach_server)
        layout.addWidget(self.reach_button)
        self.lease_code, self.lease_message = _code_entry(
            page, layout, "lease-code", "Supervisor's code", self._extend)
        self.lease_message.setObjectName("lease-message")
        back = _button("Switch verifier", page, "lease-back")
        back.clicked.connect(self.model.back)
        self.lease_button = _button("Use the code", page, "use-lease-code")
        _back_and_primary(page, layout, back, self.lease_button, self._extend)
        self.pages.addWidget(page)
        return page

    # -- acts ---------------------------------------------------------------------------
    @Slot()
    def _submit_pin(self) -> None:
        pin = self.pin.text()
        self.pin.clear()  # never kept in the widget longer than the attempt
        self.model.submit_pin(pin)

    @Slot()
    def _create(self) -> None:
        pin, again = self.new_pin.text(), self.new_repeat.text()
        self.model.create(self.new_name.text(), pin, again)

    @Slot()
    def _release(self) -> None:
        self.model.release(self.release_code.text())

    @Slot()
    def _extend(self) -> None:
        self.model.extend_lease(self.lease_code.text())

    # -- drawing ------------------------------------------------------------------------
    @Slot()
    def redraw(self) -> None:
        model = self.model
        page = self._by_door[model.door]
        if self.pages.currentWidget() is not page:
            self.pages.setCurrentWidget(page)
            self._clear_secrets()
            self._focus_first(page)
        self.status.setText("Checking…" if model.busy else "")
        name = model.chosen.name if model.chosen is not None else ""
        if model.door is Door.CHOOSE:
            self._draw_verifiers()
            self.choose_notice.setText(model.notice or model.message)
            self.choose_notice.setVisible(bool(model.notice or model.message))
        elif model.door is Door.PIN:
            self._draw_pin(name)
        elif model.door in (Door.NEW_VERIFIER, Door.FIRST_USE):
            first = model.door is Door.FIRST_USE
            self.new_title.setText("<h2>Welcome</h2>" if first else "<h2>New verifier</h2>")
            self.new_intro.setText(
                "Nobody signs in on this tablet yet. Set up yours: your name, and a "
                "passphrase that keeps your cases closed to anyone else." if first else
                "Add yourself to this tablet. Your cases stay yours: other verifiers here "
                "do not see them.")
            self.new_back.setVisible(not first)
            self.rules.setText(_rules_html(model.rules))
            self.new_message.setText(model.message)
            self.create_button.setEnabled(not model.busy)
            if model.message and self.new_pin.text():  # both boxes again, not one kept
                self.new_pin.clear()
                self.new_repeat.clear()
                self.new_pin.setFocus()
        elif model.door is Door.LOCKED:
            self.locked_title.setText(f"<h2>{_escape(name)}: locked</h2>")
            self.locked_text.setText(
                model.notice or "Too many wrong PINs were typed, and some of your cases "
                "have not been sent yet, so they were not removed.")
            self.locked_message.setText(model.message)
            self.release_button.setEnabled(not model.busy)
        elif model.door is Door.LEASE:
            self.lease_text.setText(model.message or "This tablet has not reached the "
                                    "server for too long.")
            self.lease_message.setText(model.notice)
            self.reach_button.setVisible(model.can_reach_server())
            self.reach_button.setEnabled(not model.busy)
            self.lease_button.setEnabled(not model.busy)

    def _draw_pin(self, name: str) -> None:
        model = self.model
        unlocking = model.unlocking
        self.pin_title.setText(f"<h2>{_escape(name)}</h2>")
        self.pin_notice.setText(model.notice)
        self.pin_notice.setVisible(bool(model.notice))
        wait = model.wait_s()
        self.pin_message.setText(model.message if wait == 0 else "")
        if wait:
            minutes, seconds = divmod(wait, 60)
            self.countdown.setText(
                "Wrong PIN. You can try again in "
                + (f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s") + ".")
        self.countdown.setVisible(wait > 0)
        self.sign_in_button.setText("Unlock" if unlocking else "Sign in")
        self.switch_button.setText("Switch verifier" if unlocking else "Back")
        self.sign_in_button.setEnabled(model.may_try())
        self.pin.setEnabled(wait == 0 and not model.busy)
        if wait == 0 and not model.busy and not self.pin.hasFocus():
            self.pin.setFocus()

    def _draw_verifiers(self) -> None:
        shown = [(v.verifier_id, v.name, v.locked) for v in self.model.verifiers]
        if shown == self._drawn_verifiers:
            return
        self._drawn_verifiers = shown
        while self.verifier_grid.count():
            item = self.verifier_grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for index, (verifier_id, name, locked) in enumerate(shown):
            text = name + ("\n(locked)" if locked == "wrong-pin" else "")
            button = QPushButton(text, self._choose)
            button.setObjectName(f"verifier:{verifier_id}")
            button.setProperty("role", "verifier")
            button.setMinimumHeight(BIG)
            button.clicked.connect(lambda _checked=False, v=verifier_id: self.model.choose(v))
            self.verifier_grid.addWidget(button, index // 2, index % 2)

    def verifier_button(self, verifier_id: str) -> QPushButton | None:
        found = self.findChild(QPushButton, f"verifier:{verifier_id}")
        return found if isinstance(found, QPushButton) else None

    def _clear_secrets(self) -> None:
        for field in (self.pin, self.new_pin, self.new_repeat):
            field.clear()

    def _focus_first(self, page: QWidget) -> None:
        target = {self._pin: self.pin, self._new: self.new_name,
                  self._locked: self.release_code, self._lease: self.lease_code}.get(page)
        if target is not None:
            target.setFocus()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.quitRequested.emit()
        super().closeEvent(event)


class PinPrompt(QDialog):
    """The signed-in verifier's PIN, asked before leaving kiosk mode. Accepted only when
    the model says the PIN was right (checked in the background; wrong ones count)."""

    def __init__(self, model: SignInModel, reason: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pin-prompt")
        self.setWindowTitle("Verifier's PIN")
        self.model = model
        name = model.chosen.name if model.chosen is not None else ""
        layout = QVBoxLayout(self)
        layout.addWidget(_label(f"<h3>{_escape(reason)}</h3>", self))
        layout.addWidget(_label(f"{_escape(name)}, enter your PIN. (Applicant: please "
                                "hand the tablet back to the verifier.)", self, "help"))
        self.pin = _secret_field(self, "PIN or passphrase")
        self.pin.setObjectName("prompt-pin")
        layout.addWidget(self.pin)
        self.message = _label("", self, "error")
        self.message.setObjectName("prompt-message")
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self._check)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(440)
        model.changed.connect(self._redraw)
        model.pinChecked.connect(self._right)

    @Slot()
    def _check(self) -> None:
        pin = self.pin.text()
        self.pin.clear()
        self.model.confirm_pin(pin)

    @Slot(object)
    def _right(self, _session: SignedIn) -> None:
        self.accept()

    @Slot()
    def _redraw(self) -> None:
        wait = self.model.wait_s()
        self.message.setText(f"Wrong PIN. Try again in {wait} s." if wait
                             else self.model.message)
        self.ok.setEnabled(not self.model.busy and wait == 0)

    def done(self, result: int) -> None:
        self.model.changed.disconnect(self._redraw)
        self.model.pinChecked.disconnect(self._right)
        super().done(result)


class ChangePinDialog(QDialog):
    """Change PIN: the current one, the new one twice; the registry re-wraps the keys
    (no data is rewritten). The rules are shown as at first use."""

    def __init__(self, model: SignInModel, session: SignedIn,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("change-pin")
        self.setWindowTitle("Change PIN")
        self.model = model
        self.session = session
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.old = _secret_field(self, "the one you use now")
        self.old.setObjectName("old-pin")
        self.new = _secret_field(self, "your new passphrase")
        self.new.setObjectName("new-pin")
        self.repeat = _secret_field(self, "the same again")
        self.repeat.setObjectName("repeat-pin")
        form.addRow("Current", self.old)
        form.addRow("New", self.new)
        form.addRow("Once more", self.repeat)
        layout.addLayout(form)
        rules = _label(_rules_html(model.rules), self, "help")
        rules.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(rules)
        self.message = _label("", self, "error")
        self.message.setObjectName("change-message")
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.setMinimumWidth(520)
        model.pinChanged.connect(self._changed)
        model.pinChangeRefused.connect(self._refused)

    @Slot()
    def save(self) -> None:
        self.message.setText("Checking…")
        self.save_button.setEnabled(False)
        self.model.change_pin(self.session, self.old.text(), self.new.text(),
                              self.repeat.text())

    @Slot(object)
    def _changed(self, _session: SignedIn) -> None:
        self.accept()

    @Slot(str)
    def _refused(self, message: str) -> None:
        self.save_button.setEnabled(True)
        self.message.setText(message)
        for field in (self.old, self.new, self.repeat):
            field.clear()
        self.old.setFocus()

    def done(self, result: int) -> None:
        self.model.pinChanged.disconnect(self._changed)
        self.model.pinChangeRefused.disconnect(self._refused)
        super().done(result)


class EscapeFilter(QObject):
    """Kiosk mode: Esc anywhere in the window asks to leave (the PIN prompt)."""

    escaped = Signal()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent) \
                and event.key() == Qt.Key.Key_Escape:
            self.escaped.emit()
            return True
        return False


def _rules_html(rules: str) -> str:
    return f"<p><b>{_escape(rules)}</b></p><p>{_escape(WHY_IT_MATTERS)}</p>"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
