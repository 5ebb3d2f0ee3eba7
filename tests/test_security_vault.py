"""The vault: the store's one handle on the signed-in verifier's keys."""

from __future__ import annotations

import io

import pytest

from kycdesk.security.errors import TamperedDataError
from kycdesk.security.keys import DataKey, UnlockedKeys
from kycdesk.security.vault import Vault, file_context


def _vault() -> Vault:
    key = DataKey.create()
    return Vault(UnlockedKeys("v1", key, {key.key_id: key}))


def test_values_round_trip_and_are_bound_to_case_and_field() -> None:
    vault = _vault()
    sealed = vault.seal_json({"name": "Ada"}, case_id="c1", field="form")
    assert b"Ada" not in sealed
    assert vault.open_json(sealed, case_id="c1", field="form") == {"name": "Ada"}
    with pytest.raises(TamperedDataError):
        vault.open_json(sealed, case_id="c2", field="form")
    assert vault.seal_text(None, case_id="c1", field="x") is None
    assert vault.open_text(None, case_id="c1", field="x") is None


def test_files_round_trip_and_are_bound_to_their_context() -> None:
    vault = _vault()
    out = io.BytesIO()
    writer = vault.encrypting_writer(out, file_context("c1", "img_1"))
    writer.write(b"\xff\xd8photo" * 30_000)
    writer.close()
    assert b"photo" not in out.getvalue()
    plain = vault.read_file_bytes(io.BytesIO(out.getvalue()), file_context("c1", "img_1"))
    assert plain == b"\xff\xd8photo" * 30_000
    with pytest.raises(TamperedDataError):
        vault.read_file_bytes(io.BytesIO(out.getvalue()), file_context("c1", "thumb_1"))
    tail = b"".join(vault.decrypt_from(io.BytesIO(out.getvalue()), file_context("c1", "img_1"),
                                       100_000))
    assert tail == plain[100_000:]
