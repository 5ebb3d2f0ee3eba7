"""Main window: the case list as the first tab, open cases as further tabs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QTabBar,
    QTabWidget,
    QToolButton,
    QWidget,
)

from kycdesk.models.case_list_model import CaseListModel
from kycdesk.views.about_dialog import AboutDialog
from kycdesk.views.case_list_page import CaseListPage
from kycdesk.views.style import TOUCH
from kycdesk.views.sync_panel import SyncPanel

if TYPE_CHECKING:  # the editor (forms, photos) loads when a case opens, not at start
    from kycdesk.views.case_editor import CaseEditor

BACKLOG_PREFIX = "Saving…"


class MainWindow(QMainWindow):
    newCaseRequested = Signal()
    caseOpenRequested = Signal(str)
    closing = Signal()
    minimised = Signal()
    aboutRequested = Signal()
    licencesRequested = Signal()
    lockRequested = Signal()
    changePinRequested = Signal()
    # Kiosk mode: a way out was asked for ("leave" the case, "close" the app, "switch"
    # verifier); the app asks for the verifier's PIN first.
    leaveRequested = Signal(str)

    def __init__(self, model: CaseListModel) -> None:
        super().__init__()
        self.setWindowTitle("kycdesk")
        self.model = model
        self._editors: list[CaseEditor] = []  # the open cases, in tab order of opening
        self.list_page = CaseListPage(model)
        self.table = self.list_page.table
        self.list_page.openRequested.connect(self.caseOpenRequested)
        self.list_page.newCaseRequested.connect(self.newCaseRequested)

        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.setTabsClosable(True)
        self.tabs.addTab(self.list_page, "Cases")
        self.tabs.tabBar().setTabButton(0, self.tabs.tabBar().ButtonPosition.RightSide, None)
        self.tabs.tabCloseRequested.connect(self.close_tab)
        self.setCentralWidget(self.tabs)

        self.new_case_action = QAction("New case", self)
        self.new_case_action.setShortcut(QKeySequence.StandardKey.New)
        self.new_case_action.triggered.connect(self.newCaseRequested)
        close_action = QAction("Close case", self)
        close_action.setShortcut(QKeySequence.StandardKey.Close)
        close_action.triggered.connect(lambda: self.close_tab(self.tabs.currentIndex()))
        list_action = QAction("Case list", self)
        list_action.setShortcut(QKeySequence("Ctrl+L"))
        list_action.triggered.connect(self.show_list)
        self.about_action = QAction("About kycdesk", self)
        self.about_action.setShortcut(QKeySequence.StandardKey.HelpContents)
        self.about_action.triggered.connect(self.aboutRequested)
        self.licences_action = QAction("Licences", self)
        self.licences_action.triggered.connect(self.licencesRequested)
        self.lock_action = QAction("Lock now", self)
        self.lock_action.setShortcut(QKeySequence("Ctrl+Shift+L"))
        self.lock_action.triggered.connect(self.lockRequested)
        self.change_pin_action = QAction("Change PIN…", self)
        self.change_pin_action.triggered.connect(self.changePinRequested)
        self.switch_action = QAction("Switch verifier", self)
        self.switch_action.triggered.connect(lambda: self.leaveRequested.emit("switch"))
        # Shown only under the update launcher (the app connects it: docs/updates.md).
        self.check_updates_action = QAction("Check for updates", self)
        self.check_updates_action.setVisible(False)
        for action in (self.new_case_action, close_action, list_action, self.about_action,
                       self.lock_action):
            self.addAction(action)
        self.escape_action = QAction("Leave the case", self)
        self.escape_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.escape_action.triggered.connect(lambda: self.leaveRequested.emit("leave"))
        self.escape_action.setEnabled(False)
        self.addAction(self.escape_action)
        self.tabs.currentChanged.connect(self._current_changed)
        self._kiosk = False
        # Kiosk: the case the applicant is on. Only the verifier's PIN unpins it: the tab
        # widget's own keys (Ctrl+Tab, Ctrl+PgDn) would otherwise switch to the list.
        self._pinned_editor: QWidget | None = None
        self._close_allowed = False  # kiosk: set by the app once the PIN was given

        self.save_state_label = QLabel("", self)
        self.space_label = QLabel("", self)
        self.space_label.setStyleSheet("color: #b3261e;")
        self.sync_panel = SyncPanel()
        self.statusBar().addWidget(self.save_state_label, 1)
        self.check_label = QLabel("", self)
        self.check_label.setObjectName("store-check")
        self.statusBar().addPermanentWidget(self.check_label)
        self.statusBar().addPermanentWidget(self.space_label)
        self.statusBar().addPermanentWidget(self.sync_panel)
        # Who is signed in, and their ways out (touch-sized; a menu, not a menu bar).
        self.verifier_button = QToolButton(self)
        self.verifier_button.setObjectName("verifier-menu")
        self.verifier_button.setMinimumHeight(TOUCH - 8)
        self.verifier_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.verifier_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        menu = QMenu(self.verifier_button)
        for action in (self.lock_action, self.change_pin_action, self.switch_action,
                       self.check_updates_action):
            menu.addAction(action)
        self.verifier_button.setMenu(menu)
        self.verifier_button.hide()
        self.statusBar().addPermanentWidget(self.verifier_button)
        # Help → About / Licences (touch-sized, beside the verifier's menu).
        self.help_button = QToolButton(self)
        self.help_button.setObjectName("help-menu")
        self.help_button.setText("Help ▾")
        self.help_button.setToolTip("About kycdesk (F1) and its licences")
        self.help_button.setMinimumHeight(TOUCH - 8)
        self.help_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.help_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        help_menu = QMenu(self.help_button)
        help_menu.setStyleSheet(f"QMenu::item {{ min-height: {TOUCH}px; padding: 0 24px; }}")
        help_menu.addAction(self.about_action)
        help_menu.addAction(self.licences_action)
        self.help_button.setMenu(help_menu)
        self.statusBar().addPermanentWidget(self.help_button)
        self._about: AboutDialog | None = None
        # Kiosk mode's strip above the case: for the applicant, and the verifier's way out.
        self.kiosk_bar = QWidget(self)
        self.kiosk_bar.setObjectName("kiosk-bar")
        bar = QHBoxLayout(self.kiosk_bar)
        bar.setContentsMargins(8, 4, 8, 4)
        kiosk_text = QLabel("Please complete your part, then hand the tablet back to the "
                            "verifier.", self.kiosk_bar)
        kiosk_text.setProperty("role", "banner")
        self.kiosk_leave = QPushButton("Verifier: leave this case", self.kiosk_bar)
        self.kiosk_leave.setObjectName("kiosk-leave")
        self.kiosk_leave.setMinimumHeight(TOUCH)
        self.kiosk_leave.clicked.connect(lambda: self.leaveRequested.emit("leave"))
        bar.addWidget(kiosk_text, 1)
        bar.addWidget(self.kiosk_leave)
        self.kiosk_bar.hide()
        self.setMenuWidget(self.kiosk_bar)
        self.resize(1200, 800)

    # -- the verifier ---------------------------------------------------------------------
    def show_verifier(self, name: str) -> None:
        self.verifier_button.setText(f"{name} ▾")
        self.verifier_button.setToolTip("Lock, change your PIN, or switch verifier")
        self.verifier_button.show()

    # -- kiosk mode ---------------------------------------------------------------------
    def set_kiosk(self, on: bool) -> None:
        """Full-screen; an open case is pinned (no tabs, no list) until the verifier's
        PIN; closing the window needs it too."""
        self._kiosk = on
        if on:
            screen = self.screen()
            if screen is not None:  # also where no window manager applies the state
                self.setGeometry(screen.geometry())
            self.showFullScreen()
        elif self.isFullScreen():
            self.showNormal()
        self._pin_current()

    @property
    def kiosk(self) -> bool:
        return self._kiosk

    def pinned(self) -> bool:
        return self._kiosk and self._pinned_editor is not None

    @Slot(int)
    def _current_changed(self, _index: int) -> None:
        held = self._pinned_editor
        if self._kiosk and held is not None and self.tabs.indexOf(held) >= 0 \
                and self.tabs.currentWidget() is not held:
            self.tabs.setCurrentWidget(held)  # back to the pinned case: no way out
            return
        self._pin_current()

    def _pin_current(self) -> None:
        held = self._pinned_editor
        if not self._kiosk or (held is not None and self.tabs.indexOf(held) < 0):
            self._pinned_editor = None  # kiosk off, or the pinned case was closed
        if self._kiosk and self._pinned_editor is None and self.tabs.currentIndex() > 0:
            self._pinned_editor = self.tabs.currentWidget()
        pinned = self.pinned()
        self.tabs.tabBar().setVisible(not pinned)
        self.kiosk_bar.setVisible(pinned)
        self.new_case_action.setEnabled(not pinned)
        self.verifier_button.setEnabled(not pinned)
        self.help_button.setEnabled(not pinned)
        self.sync_panel.setEnabled(not pinned)  # Settings could turn kiosk mode off
        self.escape_action.setEnabled(pinned)

    def leave_pinned_case(self) -> None:
        """The PIN was given: close the pinned case, back to the list (still kiosk)."""
        self._pinned_editor = None
        index = self.tabs.currentIndex()
        if index > 0:
            self.drop_tab(index)
        self._pin_current()

    def allow_close(self) -> None:
        """The app may close the window now (kiosk: the PIN was given; or a lock)."""
        self._close_allowed = True

    # -- case tabs ----------------------------------------------------------------------
    def editors(self) -> list[CaseEditor]:
        return list(self._editors)

    def editor_for(self, case_id: str) -> CaseEditor | None:
        return next((e for e in self.editors() if e.case_id == case_id), None)

    def add_editor(self, editor: CaseEditor) -> None:
        index = self.tabs.addTab(editor, editor.model.applicant_name() or "New case")
        # A close button a finger can hit (the style's own is 16 px).
        close = QToolButton(self.tabs)
        close.setObjectName("tab-close")
        close.setText("✕")
        close.setToolTip("Close this case (Ctrl+W); it is saved")
        close.setFixedSize(TOUCH, TOUCH)
        close.setAutoRaise(True)
        close.clicked.connect(lambda: self.close_tab(self.tabs.indexOf(editor)))
        self.tabs.tabBar().setTabButton(index, QTabBar.ButtonPosition.RightSide, close)
        editor.titleChanged.connect(lambda title, e=editor: self._retitle(e, title))
        self._editors.append(editor)
        self.tabs.setCurrentIndex(index)
        self._pin_current()

    def focus_editor(self, editor: CaseEditor) -> None:
        self.tabs.setCurrentWidget(editor)

    def _retitle(self, editor: CaseEditor, title: str) -> None:
        index = self.tabs.indexOf(editor)
        if index > 0:
            self.tabs.setTabText(index, title)

    @Slot(int)
    def close_tab(self, index: int) -> None:
        if self.pinned():  # kiosk: the verifier's PIN first
            self.leaveRequested.emit("leave")
            return
        self.drop_tab(index)

    def drop_tab(self, index: int) -> None:
        """Close a case's tab without asking (the case went away, or the PIN was given)."""
        widget = self.tabs.widget(index)
        editor = next((e for e in self._editors if e is widget), None)
        if editor is not None:
            self._editors.remove(editor)
            editor.close_case()
            self.tabs.removeTab(index)
            editor.deleteLater()
            self.model.refresh()

    def show_list(self) -> None:
        if self.pinned():
            self.leaveRequested.emit("leave")
            return
        self.tabs.setCurrentIndex(0)

    def flush_all(self) -> None:
        for editor in self.editors():
            editor.flush()

    # -- status bar ---------------------------------------------------------------------
    @Slot(bool, str)
    def show_storage_state(self, ok: bool, message: str) -> None:
        self.save_state_label.setText("" if ok else f"Not saved: {message} — retrying")

    def show_backlog(self, waiting: int) -> None:
        """Writes are piling up (a failing or very slow disk): say so instead of "Saved".
        Nothing is dropped; the count goes when the disk has caught up."""
        showing = self.save_state_label.text().startswith(BACKLOG_PREFIX)
        if waiting:
            self.save_state_label.setText(
                f"{BACKLOG_PREFIX} {waiting} changes waiting for the disk — keep working, "
                "nothing is lost")
        elif showing:
            self.save_state_label.setText("")

    def show_check_progress(self, done: int, total: int) -> None:
        """The background check of stored photos (never blocks anything)."""
        share = done / total if total else 1.0
        self.check_label.setStyleSheet("")
        self.check_label.setText("" if share >= 1 else f"Checking stored photos {share:.0%}")

    def show_check_result(self, needs_attention: bool) -> None:
        if needs_attention:
            self.check_label.setStyleSheet("color: #b3261e;")
            self.check_label.setText("Some stored photos need attention: run "
                                     "'kycdesk doctor'")
        else:
            self.check_label.setText("")

    def show_space_warning(self, message: str | None) -> None:
        self.space_label.setText(message or "")

    def show_status(self, message: str) -> None:
        self.save_state_label.setText(message)

    def about_dialog(self, tab: int = AboutDialog.ABOUT_TAB) -> tuple[AboutDialog, bool]:
        """The About dialog on `tab`, opened (one per window, kept for the next time) and
        whether it is new (the app then fills it in)."""
        fresh = self._about is None
        if self._about is None:
            self._about = AboutDialog(self)
        self._about.show_tab(tab)
        self._about.open()
        return self._about, fresh

    # -- window events ------------------------------------------------------------------
    def changeEvent(self, event: QEvent) -> None:
        if event.type() == QEvent.Type.WindowStateChange and \
                self.windowState() & Qt.WindowState.WindowMinimized:
            self.minimised.emit()
        super().changeEvent(event)

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._kiosk and not self._close_allowed:  # Alt+F4, the title bar's ✕
            event.ignore()
            self.leaveRequested.emit("close")
            return
        self.closing.emit()
        super().closeEvent(event)
