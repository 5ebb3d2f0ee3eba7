"""Main window: the case list and the "New case" action (the editor comes next)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QMainWindow,
    QScroller,
    QTableView,
    QToolBar,
)

from kycdesk.models.case_list_model import CaseListModel

TOUCH_ROW_HEIGHT = 44  # touch targets >= 40 px on tablets


class MainWindow(QMainWindow):
    newCaseRequested = Signal()
    caseOpenRequested = Signal(str)
    closing = Signal()

    def __init__(self, model: CaseListModel) -> None:
        super().__init__()
        self.setWindowTitle("kycdesk")
        self.model = model

        self.new_case_action = QAction("New case", self)
        self.new_case_action.setShortcut(QKeySequence.StandardKey.New)
        self.new_case_action.setToolTip("Start a new KYC case (Ctrl+N)")
        self.new_case_action.triggered.connect(self.newCaseRequested)
        toolbar = QToolBar("Cases", self)
        toolbar.setObjectName("cases-toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        toolbar.addAction(self.new_case_action)
        button = toolbar.widgetForAction(self.new_case_action)
        button.setMinimumSize(TOUCH_ROW_HEIGHT * 3, TOUCH_ROW_HEIGHT)
        self.addToolBar(toolbar)

        self.table = QTableView(self)
        self.table.setObjectName("case-table")
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(TOUCH_ROW_HEIGHT)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setWordWrap(False)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        QScroller.grabGesture(self.table.viewport(),
                              QScroller.ScrollerGestureType.LeftMouseButtonGesture)
        self.table.activated.connect(self._open_index)
        self.setCentralWidget(self.table)

        self.save_state_label = QLabel("", self)
        self.space_label = QLabel("", self)
        self.space_label.setStyleSheet("color: #b3261e;")
        self.statusBar().addWidget(self.save_state_label, 1)
        self.statusBar().addPermanentWidget(self.space_label)
        self.resize(900, 640)

    @Slot(QModelIndex)
    def _open_index(self, index: QModelIndex) -> None:
        case_id = index.data(CaseListModel.CaseIdRole)
        if case_id:
            self.caseOpenRequested.emit(case_id)

    @Slot(bool, str)
    def show_storage_state(self, ok: bool, message: str) -> None:
        self.save_state_label.setText("" if ok else f"Not saved: {message} — retrying")

    def show_space_warning(self, message: str | None) -> None:
        self.space_label.setText(message or "")

    def show_status(self, message: str) -> None:
        self.save_state_label.setText(message)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closing.emit()
        super().closeEvent(event)
