"""The server's form catalogue: where it finds the definitions, and what it refuses."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kycdesk_server import forms
from kycdesk_server.forms import FormCatalogue, default_forms_folder


def test_a_checkout_reads_the_apps_own_definitions() -> None:
    assert ("individual_kyc", "2") in FormCatalogue().known()


def test_an_installed_server_reads_the_definitions_its_wheel_installed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed = tmp_path / "share" / "kycdesk" / "forms"
    shutil.copytree(forms.FORMS_FOLDERS[0], installed)
    monkeypatch.setattr(forms, "FORMS_FOLDERS", (tmp_path / "no-checkout", installed))
    assert default_forms_folder() == installed
    assert ("individual_kyc", "2") in FormCatalogue().known()


def test_no_definitions_anywhere_is_said_at_start(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forms, "FORMS_FOLDERS", (tmp_path / "a", tmp_path / "b"))
    with pytest.raises(ValueError, match="--forms"):
        FormCatalogue()


def test_an_empty_or_broken_forms_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no form definitions"):
        FormCatalogue(tmp_path)
    (tmp_path / "broken.json").write_text(json.dumps({"form_id": "x"}))
    with pytest.raises(ValueError, match=r"broken\.json"):
        FormCatalogue(tmp_path)
