"""`kycdesk-server case assign|handover|withdraw|assignments` and `forms publish|list`, run
as an operator runs them (a child process on a real data folder): acts recorded under the
named supervisor, refusals in one plain line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kycdesk.core.hashing import form_definition_sha256
from kycdesk_server.backoffice.audit import AuditLog
from kycdesk_server.devices import DeviceRegistry
from kycdesk_server.storage import ServerStore
from tests.sync_support import REPO_ROOT


def run(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kycdesk_server", args[0], args[1],
                           "--data-dir", str(data), *args[2:]], capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=120, check=False,
                          input="correct horse battery staple\n")


def test_scripts_assign_hand_over_withdraw_and_publish(tmp_path: Path) -> None:
    data = tmp_path / "data"
    store = ServerStore(data)
    DeviceRegistry(store.db).system_device("dev-north", "North tablet")
    DeviceRegistry(store.db).system_device("dev-south", "South tablet")
    store.close()
    assert run(data, "user", "add", "sue", "--role", "supervisor",
               "--password-stdin").returncode == 0
    assert run(data, "user", "add", "rita", "--role", "reviewer",
               "--password-stdin").returncode == 0
    prefill = tmp_path / "answers.json"
    prefill.write_text(json.dumps({"applicant.first_name": "Ada"}))
    args = ("case", "assign", "--reference", "KYC-1", "--applicant", "Ada Lovelace",
            "--device", "North tablet", "--form-version", "2", "--due", "2026-12-31",
            "--prefill", str(prefill))
    refused = run(data, *args, "--as", "rita")
    assert refused.returncode == 1 and "supervisor" in refused.stderr
    made = run(data, *args, "--as", "sue")
    assert made.returncode == 0, made.stderr
    case_id = made.stdout.strip()
    listed = run(data, "case", "assignments")
    assert case_id in listed.stdout and "Waiting to be pulled" in listed.stdout
    moved = run(data, "case", "handover", case_id, "--to", "South tablet", "--force",
                "--as", "sue")
    assert moved.returncode == 0, moved.stderr
    gone = run(data, "case", "withdraw", case_id, "--as", "sue")
    assert gone.returncode == 0, gone.stderr
    definition = json.loads((REPO_ROOT / "resources/forms/individual_kyc_v2.json").read_text())
    form = tmp_path / "form.json"
    form.write_text(json.dumps({**definition, "version": "9", "steps": "x"}))
    broken = run(data, "forms", "publish", str(form), "--as", "sue")
    assert broken.returncode == 1 and "not valid" in broken.stderr
    good = {**definition, "version": "9"}
    form.write_text(json.dumps(good))
    published = run(data, "forms", "publish", str(form), "--sha256",
                    form_definition_sha256(good), "--as", "sue")
    assert published.returncode == 0, published.stderr
    assert "individual_kyc 9" in run(data, "forms", "list").stdout
    store = ServerStore(data)
    actions = [(e.action, e.actor_name) for e in AuditLog(store.db).entries()][:4]
    store.close()
    assert actions == [("form.published", "sue"), ("case.withdrawn", "sue"),
                       ("case.handover_forced", "sue"), ("case.assigned_to_device", "sue")]
