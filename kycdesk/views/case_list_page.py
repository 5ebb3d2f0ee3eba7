"""Home screen: the case list with search-as-you-type, status filter and sorting."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, Qt, Signal, Slot
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListView,
    QPushButton,
    QScroller,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from kycdesk.core.records import CaseSort
from kycdesk.core.states import VIEW_LABELS, Badge, CaseView
from kycdesk.models.case_list_model import CaseListModel
from kycdesk.views.style import TOUCH
from kycdesk.views.wheel_guard import guard_against_wheel


class StatusBadgeDelegate(QStyledItemDelegate):
    """Draws the status as a coloured badge (FAILED with its error beside it)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        shown = index.data(CaseListModel.BadgeRole)
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        plain = QStyleOptionViewItem(option)
        self.initStyleOption(plain, index)
        plain.text = ""  # background and selection only; the badge is drawn below
        widget: QWidget | None = plain.widget  # None when painted outside a view
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, plain, painter, plain.widget)
        if not isinstance(shown, Badge):
            return
        status = shown.label
        painter.save()
        rect: QRect = plain.rect
        metrics = painter.fontMetrics()
        badge = QRect(rect.left() + 6, rect.center().y() - metrics.height() // 2 - 3,
                      metrics.horizontalAdvance(status) + 16, metrics.height() + 6)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setBrush(QColor(shown.colour))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawRoundedRect(badge, 6, 6)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, status)
        rest = text[len(status):].lstrip(": ")
        if rest:
            painter.setPen(QColor(shown.colour))
            painter.drawText(rect.adjusted(badge.width() + 12, 0, -4, 0),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                             metrics.elidedText(rest, Qt.TextElideMode.ElideRight,
                                                rect.width() - badge.width() - 16))
        painter.restore()


EMPTY_STATE = ("No cases on this device yet.\n\nPress New case (Ctrl+N) to start one: "
               "fill in the steps, add the photos, then Submit for sync.\nTo send cases "
               "to your organisation, open Settings… (bottom right) and enter the server "
               "address and the enrolment code your administrator gave you.")


# Work the office sent comes first: it is what a verifier looks for in the morning.
INBOX_VIEWS: tuple[CaseView, ...] = (CaseView.ASSIGNED, CaseView.RETURNED)
ASSIGNED_VIEW = CaseView.ASSIGNED
DUE_COLUMN = CaseListModel.SORTS.index(CaseSort.DUE_DATE)


class CaseListPage(QWidget):
    openRequested = Signal(str)
    newCaseRequested = Signal()

    INBOX_VIEWS = INBOX_VIEWS
    FILTERS: list[tuple[str, CaseView | None]] = [
        ("All cases", None), *((VIEW_LABELS[v], v) for v in INBOX_VIEWS),
        *((VIEW_LABELS[v], v) for v in CaseView if v not in INBOX_VIEWS)]

    def __init__(self, model: CaseListModel) -> None:
        super().__init__()
        self.model = model
        self.search = QLineEdit(self)
        self.search.setObjectName("case-search")
        self.search.setPlaceholderText("Search reference, applicant name or ID number")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumHeight(TOUCH)
        self.search.textChanged.connect(model.set_search)
        self.filter = QComboBox(self)
        self.filter.setMinimumHeight(TOUCH)
        self.filter.setView(QListView(self.filter))
        self.filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        for label, status in self.FILTERS:
            self.filter.addItem(label, status)
        self.filter.currentIndexChanged.connect(self._view_chosen)
        self._wheel_guard = guard_against_wheel(self.filter)  # opened to change, not rolled
        # One touch away: the office's work, with its count (shown once there is any).
        self.inbox_buttons: dict[CaseView, QPushButton] = {}
        for view in self.INBOX_VIEWS:
            button = QPushButton(VIEW_LABELS[view], self)
            button.setObjectName(f"inbox:{view.value}")
            button.setProperty("role", "inbox")
            button.setCheckable(True)
            button.setMinimumHeight(TOUCH)
            button.setToolTip(f"Show only the cases {VIEW_LABELS[view].lower()}")
            button.clicked.connect(lambda checked, v=view: self.show_view(v if checked
                                                                          else None))
            button.hide()
            self.inbox_buttons[view] = button
        self.new_button = QPushButton("New case", self)
        self.new_button.setMinimumSize(TOUCH * 3, TOUCH)
        self.new_button.setToolTip("Start a new KYC case (Ctrl+N)")
        self.new_button.clicked.connect(self.newCaseRequested)
        self.count_label = QLabel("", self)

        self.table = QTableView(self)
        self.table.setObjectName("case-table")
        self.table.setModel(model)
        self.table.setSortingEnabled(True)
        self.table.horizontalHeader().setSortIndicator(3, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(TOUCH)
        self.table.setItemDelegateForColumn(2, StatusBadgeDelegate(self.table))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column, width in ((0, 170), (2, 200), (3, 150), (4, 70), (5, 300)):
            header.resizeSection(column, width)
        self.table.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        QScroller.grabGesture(self.table.viewport(),
                              QScroller.ScrollerGestureType.TouchGesture)
        self.table.activated.connect(self._open)
        self.table.doubleClicked.connect(self._open)

        bar = QHBoxLayout()
        bar.addWidget(self.search, 1)
        bar.addWidget(self.filter)
        for button in self.inbox_buttons.values():
            bar.addWidget(button)
        bar.addWidget(self.new_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        self.empty_state = QLabel(EMPTY_STATE, self)
        self.empty_state.setObjectName("empty-state")
        self.empty_state.setWordWrap(True)
        self.empty_state.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.empty_state, 1)
        layout.addWidget(self.count_label)
        model.modelReset.connect(self._count)
        model.rowsInserted.connect(self._count)
        self._count()

    def _count(self) -> None:
        total = self.model.total()
        first_run = not any(self.model.view_counts().values())
        self.empty_state.setVisible(first_run)  # nothing at all yet: say what to do
        self.table.setVisible(not first_run)
        counts = self.model.view_counts()
        if self.model.total_is_capped():
            parts = [f"More than {total - 1:,} cases found"]
        else:
            parts = [f"{total:,} case{'s' if total != 1 else ''} shown"]
        if counts:
            parts.append(" · ".join(f"{VIEW_LABELS[v]} {counts.get(v, 0)}"
                                    for _, v in self.FILTERS if v is not None))
        self.count_label.setText("   —   ".join(parts))
        for index, (label, view) in enumerate(self.FILTERS):
            if view is not None:  # the drop-down says how many each view holds
                self.filter.setItemText(index, f"{label} ({counts.get(view, 0)})")
        current = self.filter.currentData()
        for view, button in self.inbox_buttons.items():
            button.setText(f"{VIEW_LABELS[view]} · {counts.get(view, 0)}")
            button.setChecked(current == view)
            button.setVisible(bool(counts.get(view, 0)) or current == view)

    @Slot(int)
    def _view_chosen(self, index: int) -> None:
        view = self.filter.itemData(index)
        if view == ASSIGNED_VIEW:  # what is due soonest first (a click re-sorts)
            self.table.horizontalHeader().setSortIndicator(DUE_COLUMN,
                                                           Qt.SortOrder.AscendingOrder)
        self.model.set_view(view)

    def show_view(self, view: CaseView | None) -> None:
        """Select a view as the drop-down would (the inbox buttons, the tests)."""
        index = next(i for i, (_, v) in enumerate(self.FILTERS) if v == view)
        self.filter.setCurrentIndex(index)
        self._count()

    @Slot(QModelIndex)
    def _open(self, index: QModelIndex) -> None:
        case_id = index.data(CaseListModel.CaseIdRole)
        if case_id:
            self.openRequested.emit(case_id)
