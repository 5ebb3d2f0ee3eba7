"""`kycdesk user …` and the sign-in of the commands that open a store, as a real
process reading the PIN from stdin (--pin-stdin)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from kycdesk.exit_codes import ExitCode
from kycdesk.paths import resolve_tablet
from kycdesk.verifiers.registry import Registry

REPO_ROOT = Path(__file__).resolve().parents[1]

PIN = "my long passphrase"


def kycdesk(root: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "KYCDESK_DATA_DIR"}
    env.update(PYTHONPATH=str(REPO_ROOT), QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "kycdesk", *argv, "--data-dir", str(root)],
                          input=stdin, capture_output=True, text=True, env=env,
                          timeout=120, check=False)


def test_the_readmes_quick_start_adds_a_verifier_and_makes_demo_cases_as_them(
        tmp_path: Path) -> None:
    root = tmp_path / "tablet"
    refused = kycdesk(root, "user", "add", "Amina", "--pin-stdin", stdin="password\n")
    assert refused.returncode == ExitCode.PROBLEMS and "at least 12" in refused.stderr
    added = kycdesk(root, "user", "add", "Amina", "--pin-stdin", stdin=f"{PIN}\n")
    assert added.returncode == 0, added.stderr
    made = kycdesk(root, "demo-data", "--user", "Amina", "--pin-stdin", "--cases", "2",
                   "--images-per-case", "1", "--image-size", "64x48", stdin=f"{PIN}\n")
    assert made.returncode == 0, made.stdout + made.stderr
    assert "created 2 cases" in made.stdout
    # One verifier: --user may be left out, the PIN may not.
    listed = kycdesk(root, "case", "list", "--json", "--pin-stdin", stdin=f"{PIN}\n")
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 2
    no_pin = kycdesk(root, "case", "list", "--json")  # stdin is not a terminal
    assert no_pin.returncode == ExitCode.AUTH and "--pin-stdin" in no_pin.stderr
    wrong = kycdesk(root, "case", "list", "--pin-stdin", stdin="not my passphrase\n")
    assert wrong.returncode == ExitCode.AUTH and "Wrong PIN" in wrong.stderr
    [amina] = Registry.open(resolve_tablet(root)).verifiers()
    assert amina.failures == 1  # the command line's tries count like the app's
    tablet = resolve_tablet(root)
    assert (tablet.store(amina.verifier_id).database).exists()
    assert not tablet.legacy_store().database.exists()  # nothing at the root in clear


def test_user_list_passwd_and_remove(tmp_path: Path) -> None:
    root = tmp_path / "tablet"
    for name in ("Amina", "Bo"):
        assert kycdesk(root, "user", "add", name, "--pin-stdin",
                       stdin=f"{PIN} {name}\n").returncode == 0
    several = kycdesk(root, "doctor", "--pin-stdin", stdin=f"{PIN} Bo\n")
    assert several.returncode == ExitCode.AUTH and "Amina, Bo" in several.stderr
    listed = json.loads(kycdesk(root, "user", "list", "--json").stdout)
    assert [(v["name"], v["enrolled"], v["locked"]) for v in listed] == \
        [("Amina", False, None), ("Bo", False, None)]
    new = "a different long passphrase"
    changed = kycdesk(root, "user", "passwd", "Bo", "--pin-stdin", stdin=f"{PIN} Bo\n{new}\n")
    assert changed.returncode == 0, changed.stderr
    reused = kycdesk(root, "user", "passwd", "Bo", "--pin-stdin", stdin=f"{new}\n{PIN} Bo\n")
    assert reused.returncode == ExitCode.PROBLEMS and "last 3" in reused.stderr
    assert kycdesk(root, "case", "new", "--user", "Bo", "--pin-stdin",
                   stdin=f"{new}\n").returncode == 0
    unsynced = kycdesk(root, "user", "remove", "bo")
    assert unsynced.returncode == ExitCode.PROBLEMS and "1 case(s)" in unsynced.stderr
    removed = kycdesk(root, "user", "remove", "Bo", "--force")
    assert removed.returncode == 0, removed.stderr
    assert "Bo" not in kycdesk(root, "user", "list").stdout
    unknown = kycdesk(root, "case", "list", "--user", "Bo", "--pin-stdin", stdin=f"{new}\n")
    assert unknown.returncode == ExitCode.AUTH and "no verifier called Bo" in unknown.stderr
    policy = kycdesk(root, "user", "policy", "--numeric-pin", "allow", "--max-failures", "5")
    assert policy.returncode == 0 and "numeric PINs: allowed" in policy.stdout
    assert kycdesk(root, "user", "add", "Cy", "--pin-stdin",
                   stdin="470913\n").returncode == 0


def test_the_office_recovers_a_forgotten_pin_with_its_private_key_offline(
        tmp_path: Path) -> None:
    """`kycdesk user recover NAME --org-key FILE`: the verifier's keys open from their
    recovery wraps (no PIN), go under a new PIN, and their cases open with it; another
    organisation's key changes nothing."""
    import base64

    from cryptography.hazmat.primitives import serialization

    from kycdesk.core.protocol import EnrolledDevice
    from kycdesk.security.keys import generate_org_recovery_key, public_bytes
    from kycdesk.sync.enrolment import keep_enrolment

    root = tmp_path / "tablet"
    assert kycdesk(root, "user", "add", "Amina", "--pin-stdin",
                   stdin=f"{PIN}\n").returncode == 0
    assert kycdesk(root, "demo-data", "--user", "Amina", "--pin-stdin", "--cases", "1",
                   "--images-per-case", "0", stdin=f"{PIN}\n").returncode == 0
    org = generate_org_recovery_key()
    registry = Registry.open(resolve_tablet(root))
    [amina] = registry.verifiers()
    session = registry.sign_in(amina.verifier_id, PIN)
    keep_enrolment(registry, session, EnrolledDevice(
        device_id="dev-1", credential="t" * 43,
        office_secret=base64.b64encode(bytes(range(32))).decode(),
        org_recovery_key=base64.b64encode(public_bytes(org)).decode()))

    def pem(key: object, name: str) -> Path:
        path = tmp_path / name
        path.write_bytes(key.private_bytes(  # type: ignore[attr-defined]
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        return path

    new_pin = "a brand new passphrase"
    other = kycdesk(root, "user", "recover", "Amina", "--org-key",
                    str(pem(generate_org_recovery_key(), "other.pem")), "--pin-stdin",
                    stdin=f"{new_pin}\n")
    assert other.returncode == ExitCode.AUTH and "Nothing was changed" in other.stderr
    recovered = kycdesk(root, "user", "recover", "Amina", "--org-key",
                        str(pem(org, "org.pem")), "--pin-stdin", stdin=f"{new_pin}\n")
    assert recovered.returncode == 0, recovered.stderr
    listed = kycdesk(root, "case", "list", "--json", "--pin-stdin", stdin=f"{new_pin}\n")
    assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 1
    old = kycdesk(root, "case", "list", "--pin-stdin", stdin=f"{PIN}\n")
    assert old.returncode == ExitCode.AUTH
