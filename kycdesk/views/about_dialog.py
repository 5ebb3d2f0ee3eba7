"""Help → About: what support asks for first (versions, where the data is) and the
licences — kycdesk's own and every third-party component's, with the LGPL offer for Qt.

Touch first: 44 px targets, the licence text scrolls under a finger (kinetic), the find
field brings a component's section into view. Keyboard: Ctrl+Tab / the tab bar switches
pages, Ctrl+F goes to the find field, Enter finds the next match, Esc closes.
The text is read by the app off the GUI thread and handed in (`show_licences`).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFontDatabase, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScroller,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from kycdesk.views.style import TOUCH

LOADING = "Loading…"


class AboutDialog(QDialog):
    ABOUT_TAB = 0
    LICENCES_TAB = 1

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("about-dialog")
        self.setWindowTitle("About kycdesk")
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)

        about = QWidget(self.tabs)
        about_layout = QVBoxLayout(about)
        self.title = QLabel("kycdesk", about)
        self.title.setObjectName("about-title")
        self.title.setStyleSheet("font-size: 20px; font-weight: bold;")
        self.details = QLabel(LOADING, about)
        self.details.setObjectName("about-details")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                             | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        statement = QLabel(
            "kycdesk is licensed under the Apache License 2.0. It is built with open-source "
            "components, among them Qt and Qt for Python under the GNU LGPL 3.0: the "
            "Licences page lists each one with its licence, where to get Qt's source and "
            "how to replace its libraries.", about)
        statement.setWordWrap(True)
        statement.setProperty("role", "help")
        show = QPushButton("Show the licences", about)
        show.setObjectName("show-licences")
        show.setMinimumHeight(TOUCH)
        show.clicked.connect(lambda: self.show_tab(self.LICENCES_TAB))
        about_layout.addWidget(self.title)
        about_layout.addWidget(self.details)
        about_layout.addSpacing(12)
        about_layout.addWidget(statement)
        about_layout.addWidget(show, 0, Qt.AlignmentFlag.AlignLeft)
        about_layout.addStretch(1)
        self.tabs.addTab(about, "About")

        licences = QWidget(self.tabs)
        licences_layout = QVBoxLayout(licences)
        find_row = QHBoxLayout()
        self.find_field = QLineEdit(licences)
        self.find_field.setObjectName("licence-find")
        self.find_field.setPlaceholderText("Find a component or a word, e.g. numpy")
        self.find_field.setClearButtonEnabled(True)
        self.find_field.setMinimumHeight(TOUCH)
        self.find_field.returnPressed.connect(self.find_next)
        find_button = QPushButton("Find next", licences)
        find_button.setObjectName("licence-find-next")
        find_button.setMinimumHeight(TOUCH)
        find_button.setAutoDefault(False)
        find_button.clicked.connect(self.find_next)
        self.find_state = QLabel("", licences)
        self.find_state.setProperty("role", "help")
        find_row.addWidget(self.find_field, 1)
        find_row.addWidget(find_button)
        find_row.addWidget(self.find_state)
        self.text = QPlainTextEdit(licences)
        self.text.setObjectName("licence-text")
        self.text.setReadOnly(True)
        self.text.setPlaceholderText(LOADING)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                          | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        # A finger drags the text (kinetic); a mouse still selects it.
        QScroller.grabGesture(self.text.viewport(), QScroller.ScrollerGestureType.TouchGesture)
        licences_layout.addLayout(find_row)
        licences_layout.addWidget(self.text, 1)
        self.tabs.addTab(licences, "Licences")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close = buttons.button(QDialogButtonBox.StandardButton.Close)
        close.setMinimumSize(TOUCH * 2, TOUCH)
        close.setObjectName("about-close")
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(buttons)
        QShortcut(QKeySequence(QKeySequence.StandardKey.Find), self, self._focus_find)
        self.resize(900, 620)

    # -- filled in by the app ---------------------------------------------------------
    def show_details(self, lines: list[str]) -> None:
        self.title.setText(lines[0])
        self.details.setText("\n".join(lines[1:]))

    def show_licences(self, text: str) -> None:
        self.text.setPlainText(text)

    def show_licence_error(self, message: str) -> None:
        self.text.setPlaceholderText("")
        self.text.setPlainText(message)

    def licences_loaded(self) -> bool:
        return bool(self.text.toPlainText())

    # -- pages and finding ------------------------------------------------------------
    def show_tab(self, index: int) -> None:
        self.tabs.setCurrentIndex(index)
        if index == self.LICENCES_TAB:
            self.find_field.setFocus()

    @Slot()
    def _focus_find(self) -> None:
        self.show_tab(self.LICENCES_TAB)
        self.find_field.selectAll()

    @Slot()
    def find_next(self) -> bool:
        """The next match below the cursor, then from the top; the line it is on comes
        into view."""
        query = self.find_field.text().strip()
        if not query:
            self.find_state.setText("")
            return False
        found = self.text.find(query)
        if not found:
            cursor = self.text.textCursor()
            cursor.movePosition(cursor.MoveOperation.Start)
            self.text.setTextCursor(cursor)
            found = self.text.find(query)
        self.find_state.setText("" if found else "Not found")
        if found:
            self.text.centerCursor()
        return found


__all__ = ["AboutDialog"]
