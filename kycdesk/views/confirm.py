"""Asking the verifier to confirm a destructive action (tests answer for them)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget

Confirm = Callable[[QWidget, str], bool]


def ask_confirmation(parent: QWidget, question: str) -> bool:
    answer = QMessageBox.question(parent, "kycdesk", question,
                                  QMessageBox.StandardButton.Yes
                                  | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes
