"""The case list as a paged table model: 100,000 cases are never 100,000 widgets.

Rows are fetched a page at a time (`canFetchMore`/`fetchMore`) through the GUI thread's
read connection: each page starts after the last row shown (keyset paging, see
`persistence.case_list`), so scrolling deep costs what the first page costs.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor

from kycdesk.core.clock import parse_instant_or_none
from kycdesk.core.records import CaseSort, CaseSummary
from kycdesk.core.states import STATUS_COLOURS, CaseStatus, CaseView, badge
from kycdesk.models.two_way_text import due_text, is_overdue
from kycdesk.persistence.case_list import count_cap
from kycdesk.persistence.reader import ReadStore

PAGE_SIZE = 200
ModelIndex = QModelIndex | QPersistentModelIndex

def format_timestamp(value: str | None) -> str:
    """ISO UTC from the store -> local time a person reads."""
    moment = parse_instant_or_none(value)
    if moment is None:
        return value or ""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M")


OVERDUE_COLOUR = STATUS_COLOURS[CaseStatus.FAILED]


def office_text(case: CaseSummary) -> str:
    """Work the office sent: an assignment's due date (overdue said in words), a return,
    the office's decision on a case sent."""
    if case.inbox == "assigned":
        return due_text(case.due_date) or "Assigned to you, no due date"
    if case.inbox == "returned":
        return "Returned to you: see the reviewer's comments"
    if case.decision == "approved":
        return "Approved"
    if case.decision == "rejected":
        return f"Rejected: {case.decision_reason}" if case.decision_reason else "Rejected"
    return ""


class CaseListModel(QAbstractTableModel):
    COLUMNS = ("Reference", "Applicant", "Status", "Last saved", "Photos", "From the office")
    SORTS = (CaseSort.REFERENCE, CaseSort.APPLICANT, CaseSort.STATUS, CaseSort.LAST_SAVED,
             CaseSort.PHOTOS, CaseSort.DUE_DATE)
    CaseIdRole = Qt.ItemDataRole.UserRole + 1
    StatusRole = Qt.ItemDataRole.UserRole + 2
    BadgeRole = Qt.ItemDataRole.UserRole + 3   # core.states.Badge: label and colour

    def __init__(self, reader: ReadStore | None = None, page_size: int = PAGE_SIZE) -> None:
        super().__init__()
        self._reader = reader
        self._page_size = page_size
        self._rows: list[CaseSummary] = []
        self._total = 0
        self._view: CaseView | None = None
        self._counts: dict[CaseView, int] = {}
        self._search = ""
        self._sort = CaseSort.LAST_SAVED
        self._descending: bool | None = None
        self._resetting = False
        self._more = False
        if reader is not None:
            self.refresh()

    # -- loading ---------------------------------------------------------------------
    def set_reader(self, reader: ReadStore | None) -> None:
        self._reader = reader
        self.refresh()

    def set_view(self, view: CaseView | str | None) -> None:
        """Show one view of the cases (None: all). Accepts the view's text too: a combo
        box's item data comes back as plain text."""
        self._view = CaseView(view) if view else None
        self.refresh()

    def view_counts(self) -> dict[CaseView, int]:
        """Cases per view, as of the last refresh (for "Drafts 12 · Waiting 3 · …")."""
        return dict(self._counts)

    def set_search(self, text: str) -> None:
        text = text.strip()
        if text != self._search:
            self._search = text
            self.refresh()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        sort = self.SORTS[column] if 0 <= column < len(self.SORTS) else None
        if sort is None:
            return
        self._sort = sort
        self._descending = order == Qt.SortOrder.DescendingOrder
        self.refresh()

    def _query(self, after: CaseSummary | None) -> list[CaseSummary]:
        assert self._reader is not None
        return self._reader.list_cases(limit=self._page_size, after=after,
                                       view=self._view, search=self._search or None,
                                       sort=self._sort, descending=self._descending)

    def refresh(self) -> None:
        # Views (and the model tester) may ask canFetchMore while the reset is announced;
        # no rows may be inserted until it is over.
        self._resetting = True
        self.beginResetModel()
        self._rows = []
        self._total = 0
        if self._reader is not None:
            self._total = self._reader.count_cases(self._view, self._search or None)
            self._counts = self._reader.view_counts()
            self._rows = self._query(None)
        self._more = len(self._rows) == self._page_size
        self.endResetModel()  # listeners of modelReset must not fetch inside it either
        self._resetting = False

    def canFetchMore(self, parent: ModelIndex = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and not self._resetting and self._more

    def fetchMore(self, parent: ModelIndex = QModelIndex()) -> None:  # noqa: B008
        if parent.isValid() or self._reader is None or self._resetting:
            return
        page = self._query(self._rows[-1] if self._rows else None)
        self._more = len(page) == self._page_size
        if not page:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(page) - 1)
        self._rows.extend(page)
        self.endInsertRows()

    def case_at(self, row: int) -> CaseSummary:
        return self._rows[row]

    def total(self) -> int:
        """Rows in this view and search (a search's count stops past COUNT_CAP)."""
        return self._total

    def total_is_capped(self) -> bool:
        """A search's count stops at its cap (a view's count is always exact)."""
        return bool(self._search) and self._total > count_cap(self._search)

    # -- QAbstractTableModel ---------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        case = self._rows[index.row()]
        column = index.column()
        if role == self.CaseIdRole:
            return case.id
        if role == self.StatusRole:
            return case.status
        shown = badge(case.status, case.last_error_kind)
        if role == self.BadgeRole:
            return shown
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return case.reference_number or "(no reference yet)"
            if column == 1:
                if case.purged_at:
                    return "(removed from this device after sync)"
                return case.applicant_name or "—"
            if column == 2:
                if case.status == CaseStatus.FAILED.value and case.last_error:
                    return f"{shown.label}: {case.last_error}"
                return shown.label
            if column == 3:
                return format_timestamp(case.last_saved)
            if column == 4:
                return case.photo_count
            if column == 5:
                return office_text(case)
        if role == Qt.ItemDataRole.ForegroundRole and column == 2:
            return QColor(shown.colour)
        if role == Qt.ItemDataRole.ForegroundRole and column == 5 and \
                case.inbox == "assigned" and is_overdue(case.due_date):
            return QColor(OVERDUE_COLOUR)
        if role == Qt.ItemDataRole.ToolTipRole and case.purged_at:
            return (f"Sent, and removed from this device on {format_timestamp(case.purged_at)}"
                    " (retention rule): only the reference and the server's receipt remain.")
        if role == Qt.ItemDataRole.ToolTipRole and case.last_error:
            return case.last_error + (f"\nNext attempt: {format_timestamp(case.next_attempt_at)}"
                                      if case.next_attempt_at else "")
        if role == Qt.ItemDataRole.TextAlignmentRole and column == 4:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None
