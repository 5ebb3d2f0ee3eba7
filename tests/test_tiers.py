"""The test tiers' rules (tests/tiers.py): what loads Qt is read from the source."""

from __future__ import annotations

import sys

import pytest

from tests import tiers


def test_modules_that_load_qt_are_told_apart_from_those_that_do_not() -> None:
    assert tiers.imports_qt("kycdesk.app")
    assert tiers.imports_qt("kycdesk.persistence.store")  # through its writer's QtSql
    assert not tiers.imports_qt("kycdesk.core.form_schema")
    assert not tiers.imports_qt("kycdesk.paths")
    # kycdesk.cli imports Qt only inside functions (fast start): loading it loads no Qt.
    assert not tiers.imports_qt("kycdesk.cli")


def _uses_the_draft_model() -> None:
    from kycdesk.models.draft_model import DraftModel  # noqa: F401


def _plain() -> None:
    from kycdesk.core import validation  # noqa: F401


def test_a_test_that_imports_qt_in_its_body_is_a_qt_test() -> None:
    assert tiers._body_imports_qt(_uses_the_draft_model)
    assert not tiers._body_imports_qt(_plain)


@pytest.mark.unit  # by hand: its body names PySide6, which would make it a Qt test
@pytest.mark.skipif(not tiers.qt_refused(), reason="only under `pytest -m unit`")
def test_the_unit_tier_refuses_qt() -> None:
    assert "PySide6" not in sys.modules
    with pytest.raises(ImportError, match="the unit tier runs without Qt"):
        import PySide6  # noqa: F401
