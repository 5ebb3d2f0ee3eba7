"""The draft of one case as a Qt model: one row per form field.

Widgets bind to rows (see views/field_widgets.py): an edit calls `set_value`, the model
validates in the data layer, recomputes which fields are visible, and announces the
change (`edited` for autosave, `dataChanged` for every bound widget). Errors are shown
once a field was touched, or for all fields after a Submit attempt.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)

from kycdesk.core.form_schema import FieldDef, FieldKind, FormDefinition
from kycdesk.core.validation import is_visible, validate_form, validate_value

ModelIndex = QModelIndex | QPersistentModelIndex


class DraftModel(QAbstractListModel):
    KeyRole = Qt.ItemDataRole.UserRole + 1
    ErrorRole = Qt.ItemDataRole.UserRole + 2
    VisibleRole = Qt.ItemDataRole.UserRole + 3
    FieldRole = Qt.ItemDataRole.UserRole + 4

    edited = Signal(str, object)          # key, value — a user change, to be saved
    visibilityChanged = Signal(str, bool)  # key, visible
    errorsChanged = Signal()

    def __init__(self, definition: FormDefinition, values: dict[str, Any] | None = None,
                 *, photo_counts: dict[str, int] | None = None, read_only: bool = False,
                 today: date | None = None) -> None:
        super().__init__()
        self.definition = definition
        self.read_only = read_only
        self._today = today
        self._fields: list[FieldDef] = definition.fields()
        self._row = {field.key: row for row, field in enumerate(self._fields)}
        self._values: dict[str, Any] = dict(values or {})
        self._photo_counts: dict[str, int] = dict(photo_counts or {})
        self._touched: set[str] = set()
        self._show_all = False
        self._visible = {f.key: is_visible(definition, f, self._values) for f in self._fields}
        # Fields whose format depends on another answer, by that answer's key.
        self._format_dependents: dict[str, list[int]] = {}
        for row, field in enumerate(self._fields):
            if field.format_by is not None:
                self._format_dependents.setdefault(field.format_by.field, []).append(row)

    # -- values ------------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """Every value, including keys this form version does not know (kept, never
        dropped: a draft migrated from an older version keeps its old answers)."""
        return dict(self._values)

    def value(self, key: str) -> Any:
        return self._values.get(key)

    def set_value(self, key: str, value: Any) -> bool:
        """A user edit. Returns False (and changes nothing) if read-only or unchanged."""
        if self.read_only or key not in self._row:
            return False
        if key not in self._values and (value is None or value in ("", [])):
            return False  # "still unanswered" is not a change
        if key in self._values and self._values[key] == value \
                and type(self._values[key]) is type(value):
            return False
        self._store_value(key, value)
        self.edited.emit(key, value)
        return True

    def apply_stored(self, key: str, value: Any) -> None:
        """A value the store already holds (the one the verifier kept in a conflict with
        the office): shown, validated, not written again as an edit."""
        if key in self._row:
            self._store_value(key, value)

    def _store_value(self, key: str, value: Any) -> None:
        self._values[key] = value
        self._touched.add(key)
        row = self._row[key]
        index = self.index(row)
        self.dataChanged.emit(index, index)
        self._refresh_visibility()
        for dependent in self._format_dependents.get(key, []):  # a postcode's country
            self.dataChanged.emit(self.index(dependent), self.index(dependent))
        self.errorsChanged.emit()

    def set_photo_count(self, slot: str, count: int) -> None:
        self._photo_counts[slot] = count
        for row, field in enumerate(self._fields):
            if field.kind is FieldKind.PHOTO and field.slot == slot:
                self._touched.add(field.key)
                self.dataChanged.emit(self.index(row), self.index(row))
        self.errorsChanged.emit()

    def photo_count(self, slot: str) -> int:
        return self._photo_counts.get(slot, 0)

    def applicant_name(self) -> str | None:
        return self.definition.applicant_name(self._values)

    def id_numbers(self) -> str | None:
        return self.definition.id_numbers(self._values)

    # -- visibility and validation -------------------------------------------------------
    def is_visible(self, key: str) -> bool:
        return self._visible.get(key, False)

    def _refresh_visibility(self) -> None:
        for row, field in enumerate(self._fields):
            now = is_visible(self.definition, field, self._values)
            if now != self._visible[field.key]:
                self._visible[field.key] = now
                self.dataChanged.emit(self.index(row), self.index(row))
                self.visibilityChanged.emit(field.key, now)

    def error(self, key: str) -> str | None:
        """The message to show now (touched or after Submit), if any."""
        if not (self._show_all or key in self._touched) or not self._visible.get(key):
            return None
        field = self._fields[self._row[key]]
        return validate_value(field, self._values.get(key), today=self._today,
                              photo_count=self._photo_counts.get(field.slot, 0),
                              values=self._values, locale=self.definition.locale)

    def problems(self) -> dict[str, str]:
        return validate_form(self.definition, self._values, self._photo_counts,
                             today=self._today)

    def show_all_errors(self) -> None:
        self._show_all = True
        if self._fields:
            self.dataChanged.emit(self.index(0), self.index(len(self._fields) - 1))
        self.errorsChanged.emit()

    def step_problem_counts(self) -> list[int]:
        """Per step: how many shown errors (for the step list badges)."""
        counts = [0] * len(self.definition.steps)
        for field in self._fields:
            if self.error(field.key):
                counts[self.definition.step_index_of(field.key)] += 1
        return counts

    # -- QAbstractListModel ------------------------------------------------------------
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._fields)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._fields):
            return None
        field = self._fields[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._values.get(field.key)
        if role == self.KeyRole:
            return field.key
        if role == self.ErrorRole:
            return self.error(field.key)
        if role == self.VisibleRole:
            return self._visible[field.key]
        if role == self.FieldRole:
            return field
        return None

    def setData(self, index: ModelIndex, value: Any,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or not index.isValid():
            return False
        return self.set_value(self._fields[index.row()].key, value)

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if not self.read_only:
            base |= Qt.ItemFlag.ItemIsEditable
        return base

    def row_of(self, key: str) -> int:
        return self._row[key]
