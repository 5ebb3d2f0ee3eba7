"""Schemathesis against the reference server (embedded back end), in CI: every route of
the OpenAPI document, generated valid and invalid requests, all checks — no 500, every
status, header and content type documented, every response matching its schema.

The tus routes run without the two data-acceptance checks: tus itself defines answers
those checks do not know (412 for an unsupported protocol version, 460 for a checksum
mismatch) and its metadata is checked for meaning (UUIDs, a SHA-256), not only shape.
The submission route runs without the positive one: its form values are checked for
meaning against the form definition the submission names (an unknown form, a value of a
type its field cannot hold: 422), which a schema of `form: object` cannot say. So do the
pull (a schema-valid held-cases digest that is not this device's is rightly 412: resync)
and the release (a revision is a strict integer: 3.0 is refused, as in a submission),
and the office's acts whose bodies name what must exist and fit (a tablet by name, a
field of the form, a form definition valid against the form schema: else 422).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.browser_support import OfficeServer
from tests.sync_support import (
    REPO_ROOT,
    TOKEN,
    ServerHandle,
    server_on_each_backend,
)

server = server_on_each_backend("schemathesis")

# Per operation (schemathesis.toml in the run's folder): the submission's form values are
# checked for meaning, so a schema-valid body may rightly be 422.
CONFIG = """
[[operations]]
include-name = "PUT /v1/cases/{case_id}/submission"
checks.positive_data_acceptance.enabled = false

[[operations]]
include-name = "POST /v1/pull"
checks.positive_data_acceptance.enabled = false
warnings = false  # random digests are not this device's: mostly 412, rightly

[[operations]]
include-name = "POST /v1/cases/{case_id}/release"
checks.positive_data_acceptance.enabled = false
warnings = false  # no handover under way for a random case: 409, rightly

# Random case and photo ids are unknown (404: "missing test data"), which says nothing
# about the routes; their real answers are covered by tests/test_pull_api.py.
[[operations]]
include-name = "GET /v1/cases/{case_id}/images/{client_image_id}"
warnings = false

[[operations]]
include-name = "POST /v1/cases/{case_id}/handover-requests"
warnings = false

[[operations]]
include-path-regex = "^/api/office/(assignments|forms|cases/[^/]+/(corrections|handover))$"
include-method = "POST"
checks.positive_data_acceptance.enabled = false
"""


def _schemathesis(server: ServerHandle, tmp_path: Path, *options: str,
                  headers: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # Every check is on by default (the config's default); `--checks all` on the command
    # line would override the per-operation settings in CONFIG.
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG)
    sent = headers or {"Authorization": f"Bearer {TOKEN}"}
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
               f"{server.base_url}/openapi.json",
               *(arg for name, value in sent.items() for arg in ("-H", f"{name}: {value}")),
               "--max-examples", "25", "--seed", "20261126", *options]
    env = dict(os.environ, SCHEMATHESIS_HOOKS="tests.schemathesis_hooks",
               PYTHONPATH=str(REPO_ROOT), NO_COLOR="1")
    return subprocess.run(command, capture_output=True, text=True, timeout=600, env=env,
                          cwd=tmp_path, check=False)


def test_every_json_route_passes_every_check(server: ServerHandle, tmp_path: Path) -> None:
    run = _schemathesis(server, tmp_path, "--exclude-path-regex", "^/(v1/uploads|api/office)")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "No issues found" in run.stdout


def test_the_back_office_api_passes_every_check_signed_in(server: ServerHandle,
                                                          tmp_path: Path) -> None:
    """/api/office/… with a reviewer's session cookie and CSRF header (not a device's)."""
    office = OfficeServer(server)
    headers = office.api_headers(office.add_account("supervisor", with_totp=False))
    run = _schemathesis(server, tmp_path, "--include-path-regex", "^/api/office",
                        headers=headers)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    # Warnings only (random case ids are unknown: 404), never a failure.
    assert "failure" not in run.stdout.rsplit("SUMMARY", 1)[-1], run.stdout[-4000:]


def test_the_tus_routes_pass_every_check_tus_allows(server: ServerHandle,
                                                    tmp_path: Path) -> None:
    run = _schemathesis(server, tmp_path, "--include-path-regex", "^/v1/uploads",
                        "--exclude-checks", "negative_data_rejection,positive_data_acceptance")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    # Warnings only (random upload ids are mostly unknown: 404), never a failure.
    assert "failure" not in run.stdout.rsplit("SUMMARY", 1)[-1]
