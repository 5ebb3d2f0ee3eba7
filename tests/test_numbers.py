"""Numbers and money as typed, in the form's locale: read exactly, refused with the
reading when there is more than one, never cut (issue 19: "45,000" was stored as 45.00)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from kycdesk.core.form_schema import FieldDef, FieldKind
from kycdesk.core.numbers import canonical, format_number, read_number, stored_number
from kycdesk.core.validation import validate_value

# text, locale, decimals, whole, read as (None: refused), words the refusal must contain
TABLE = [
    ("45,000", "en_GB", 2, False, "45000", None),
    ("45 000", "en_GB", 2, False, "45000", None),
    ("45,000.50", "en_US", 2, False, "45000.50", None),
    ("-1,234.5", "en_US", 2, False, "-1234.5", None),
    ("12,34,567.50", "en_IN", 2, False, "1234567.50", None),
    ("1,234", "en_IN", 2, False, "1234", None),
    ("45.000,50", "de_DE", 2, False, "45000.50", None),
    ("45.000", "de_DE", 2, False, "45000", None),
    ("45,5", "de_DE", 2, False, "45.5", None),
    ("45\u202f000,50", "fr_FR", 2, False, "45000.50", None),
    ("45 000,5", "fr_FR", 2, False, "45000.5", None),
    ("45\u00a0000", "fr_FR", None, True, "45000", None),
    ("1'234.50", "de_CH", 2, False, "1234.50", None),
    ("45000", "en_GB", None, True, "45000", None),
    # refused, with how it could be read
    ("45.000", "en_GB", 2, False, None, "Did you mean 45,000.00?"),
    ("45.000", "en_GB", None, True, None, "Did you mean 45,000?"),
    ("45,5", "en_GB", 2, False, None, "Did you mean 45.50?"),
    ("45.000,50", "en_GB", 2, False, None, "Did you mean 45,000.50?"),
    ("45,000", "de_DE", 2, False, None, "Did you mean 45.000,00?"),
    ("45.000", "fr_FR", 2, False, None, "Did you mean 45\u202f000,00?"),
    ("45,000.50", "de_DE", 2, False, None, "Did you mean 45.000,50?"),
    ("45,00,0", "en_GB", 2, False, None, "not"),
    ("12,345,678", "en_IN", 2, False, None, "Did you mean"),
    ("45.505", "en_GB", 2, False, None, "45.505"),  # a third decimal: refused, not cut
    ("4500.001", "en_US", 2, False, None, "decimal"),
    ("abc", "en_GB", 2, False, None, "Enter a number such as 45,000.50."),
    ("1e5", "en_GB", 2, False, None, "Enter a number"),
]


@pytest.mark.parametrize(("text", "locale", "decimals", "whole", "expected", "words"), TABLE)
def test_typed_numbers_in_each_locale(text: str, locale: str, decimals: int | None,
                                      whole: bool, expected: str | None,
                                      words: str | None) -> None:
    reading = read_number(text, locale, decimals=decimals, whole=whole)
    if expected is None:
        assert reading.value is None
        assert reading.problem is not None and words is not None
        assert words in reading.problem
    else:
        assert reading.problem is None
        assert reading.value == Decimal(expected)
        assert canonical(reading.value) == expected  # exact, places as typed


@pytest.mark.parametrize(("value", "locale", "decimals", "shown"), [
    (Decimal(45000), "en_GB", 2, "45,000.00"),
    (Decimal("45000.5"), "de_DE", 2, "45.000,50"),
    (Decimal("45000.5"), "fr_FR", 2, "45\u202f000,50"),
    (Decimal("1234567.5"), "en_IN", 2, "12,34,567.50"),
    (Decimal("-1234"), "en_US", None, "-1,234"),
    (Decimal("0.125"), "en_GB", 2, "0.125"),  # never fewer digits than the value has
])
def test_values_are_shown_back_grouped(value: Decimal, locale: str, decimals: int | None,
                                       shown: str) -> None:
    assert format_number(value, locale, decimals=decimals) == shown
    assert read_number(shown, locale).value == value


MONEY = FieldDef(key="income.annual", label="Income (£)", kind=FieldKind.DECIMAL,
                 decimals=2, minimum=0)


@pytest.mark.parametrize(("stored", "problem"), [
    ("45000.50", None),  # what the editor stores: an exact decimal string
    (45000, None),  # earlier stores: ints and floats stay readable
    (12500.5, None),
    ("12500.50", None),
    ("45.000", "Did you mean 45,000.00?"),  # typed text kept as typed, refused
    ("45,5", "Did you mean 45.50?"),
    ("45000.505", "decimal"),
])
def test_stored_money_is_validated_exactly(stored: object, problem: str | None) -> None:
    message = validate_value(MONEY, stored, locale="en_GB")
    if problem is None:
        assert message is None
    else:
        assert message is not None and problem in message


def test_the_decimal_string_stored_reads_the_same_in_a_decimal_comma_locale() -> None:
    assert validate_value(MONEY, "45000.50", locale="de_DE") is None
    assert stored_number("45000.50") == Decimal("45000.50")
    assert stored_number(0.1) == Decimal("0.1")  # through repr: no binary noise


# -- the editor, offscreen, typing key by key ----------------------------------------------

def _money_editor(qtbot: object, locale: str = "en_GB") -> object:
    from kycdesk.core.form_schema import FormDefinition, StepDef
    from kycdesk.models.draft_model import DraftModel
    from kycdesk.views.field_widgets import NumberEditor

    definition = FormDefinition(form_id="money", version="1", title="Money", locale=locale,
                                steps=[StepDef(id="income", title="Income", fields=[MONEY])])
    model = DraftModel(definition, {})
    editor = NumberEditor(model, MONEY)
    qtbot.addWidget(editor)  # type: ignore[attr-defined]
    return editor


@pytest.mark.parametrize(("typed", "locale", "stored", "shown"), [
    ("45,000", "en_GB", "45000", "45,000.00"),
    ("45 000", "en_GB", "45000", "45,000.00"),
    ("45.000,5", "de_DE", "45000.5", "45.000,50"),
    ("45 000,50", "fr_FR", "45000.50", "45\u202f000,50"),
    ("12,34,567", "en_IN", "1234567", "12,34,567.00"),
])
def test_typing_money_stores_the_exact_value_and_shows_it_grouped(
        qtbot: object, typed: str, locale: str, stored: str, shown: str) -> None:
    from pytestqt.qtbot import QtBot

    from kycdesk.views.field_widgets import NumberEditor

    assert isinstance(qtbot, QtBot)
    editor = _money_editor(qtbot, locale)
    assert isinstance(editor, NumberEditor)
    qtbot.keyClicks(editor.line, typed)
    assert editor.model.value(MONEY.key) == stored
    editor.line.editingFinished.emit()
    assert editor.line.text() == shown
    assert editor.model.value(MONEY.key) == stored
    assert editor.model.error(MONEY.key) is None


@pytest.mark.parametrize(("typed", "words"), [
    ("45.000", "Did you mean 45,000.00?"),
    ("45.505", "has 3"),  # the third decimal is kept and refused, not dropped
    ("45,0000", "not clear"),
])
def test_typed_text_with_no_single_reading_is_kept_and_refused(
        qtbot: object, typed: str, words: str) -> None:
    from pytestqt.qtbot import QtBot

    from kycdesk.views.field_widgets import NumberEditor

    assert isinstance(qtbot, QtBot)
    editor = _money_editor(qtbot)
    assert isinstance(editor, NumberEditor)
    qtbot.keyClicks(editor.line, typed)
    editor.line.editingFinished.emit()
    assert editor.line.text() == typed  # every key typed is still there
    assert editor.model.value(MONEY.key) == typed
    message = editor.model.error(MONEY.key)
    assert message is not None and words in message
    assert editor.error_label.text() == message


@pytest.mark.parametrize(("locale", "message"), [
    ("en_GB", "Must be at most 1,000,000."),
    ("de_DE", "Must be at most 1.000.000."),
])
def test_bounds_are_written_as_numbers_are_typed(locale: str, message: str) -> None:
    field = FieldDef(key="income.annual", label="Income", kind=FieldKind.DECIMAL,
                     decimals=2, maximum=1_000_000)
    assert validate_value(field, "1000000.01", locale=locale) == message
    assert validate_value(field, 2_000_000, locale=locale) == message
