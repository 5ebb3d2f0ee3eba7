"""The temporary vault of callers without a signed-in verifier (kycdesk/verifiers/interim.py):
the same key for every process that opens the same data folder, kept owner-only."""

from __future__ import annotations

import stat

from kycdesk.paths import DataPaths
from kycdesk.verifiers.interim import interim_vault


def test_the_same_folder_gives_the_same_key_and_the_file_is_owner_only(
        paths: DataPaths) -> None:
    first = interim_vault(paths)
    sealed = first.seal_text("Ada", case_id="c", field="f")
    again = interim_vault(paths)  # as another process would, from the file
    assert again.open_text(sealed, case_id="c", field="f") == "Ada"
    key_file = paths.root / "interim.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert [p.name for p in paths.root.iterdir() if p.name.startswith("interim")] \
        == ["interim.key"]  # no temp file left behind
