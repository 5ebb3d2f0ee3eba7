"""A tablet with one verifier for tests that go through sign-in (the CLI, the registry).

The verifier is created through the real `Registry` with cheap argon2id parameters
(stored in the ring, so a CLI subprocess signing in pays the same ~1 ms): the
production cost (64 MiB × 3, ~0.15 s) is exercised by tests/test_verifiers.py.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from kycdesk.paths import DataPaths, TabletPaths, resolve_tablet
from kycdesk.security.keys import Argon2Params
from kycdesk.security.vault import Vault
from kycdesk.verifiers.registry import Registry
from kycdesk.verifiers.session import Session

TEST_USER = "Tess"
TEST_PIN = "tests only passphrase"
CHEAP_PARAMS = Argon2Params(time_cost=1, memory_kib=8, parallelism=1)


@dataclass(frozen=True)
class SignedTablet:
    tablet: TabletPaths
    registry: Registry
    session: Session

    @property
    def paths(self) -> DataPaths:
        return self.session.paths

    def cli_args(self) -> list[str]:
        """What a store command needs to sign in as the verifier (PIN on stdin)."""
        return ["--data-dir", str(self.tablet.root), "--user", TEST_USER, "--pin-stdin"]


def make_tablet(root: Path, *, user: str = TEST_USER, pin: str = TEST_PIN) -> SignedTablet:
    registry = Registry.open(resolve_tablet(root), pin_params=CHEAP_PARAMS)
    session = registry.add(user, pin)
    if pin == TEST_PIN:
        _VAULTS[session.paths.root] = session.vault
    return SignedTablet(registry.tablet, registry, session)


def pin_on_stdin(monkeypatch: pytest.MonkeyPatch, *lines: str) -> None:
    """For `kycdesk.cli.main` in this process: what --pin-stdin reads."""
    monkeypatch.setattr(sys, "stdin", io.StringIO("".join(f"{x}\n" for x in lines or
                                                          (TEST_PIN,))))


def signed_in_args(paths: DataPaths) -> list[str]:
    """`--data-dir … --user … --pin-stdin` for the verifier whose store `paths` is (made
    by `make_tablet`, with the test PIN)."""
    tablet = resolve_tablet(paths.root.parent.parent)
    found = [v for v in Registry.open(tablet).verifiers() if v.verifier_id == paths.root.name]
    assert found, f"{paths.root} is not a verifier's store made by tests/tablets.py"
    return ["--data-dir", str(tablet.root), "--user", found[0].name, "--pin-stdin"]


def main_signed_in(argv: list[str], paths: DataPaths, pin: str = TEST_PIN) -> int:
    """`kycdesk.cli.main(argv)` in this process as the verifier of `paths`."""
    from kycdesk.cli import main

    saved = sys.stdin
    sys.stdin = io.StringIO(f"{pin}\n")
    try:
        return main([*argv, *signed_in_args(paths)])
    finally:
        sys.stdin = saved


@pytest.fixture(name="paths")
def verifier_paths(tmp_path: Path) -> DataPaths:
    """Replaces conftest's `paths` in a module that imports it: the store of a verifier
    (made by `make_tablet`) — the one the commands open when signed in."""
    return make_tablet(tmp_path / "data").paths


def pin_file(paths: DataPaths, pin: str = TEST_PIN) -> Path:
    """A file holding the PIN line, for `stdin=` of processes started again and again
    (kill loops): beside the tablet's folder, never inside it."""
    tablet_root = paths.root.parent.parent
    path = tablet_root.with_name(tablet_root.name + ".pin")
    path.write_text(f"{pin}\n", encoding="utf-8")
    return path


_VAULTS: dict[Path, Vault] = {}


def vault_for(paths: DataPaths) -> Vault:
    """The keys of the verifier whose store `paths` is (made by `make_tablet`): what the
    test opens that store with, beside the commands that sign in to it."""
    if paths.root not in _VAULTS:
        tablet = resolve_tablet(paths.root.parent.parent)
        _VAULTS[paths.root] = Registry.open(tablet).sign_in(paths.root.name, TEST_PIN).vault
    return _VAULTS[paths.root]


@pytest.fixture(name="vault")
def verifier_vault(paths: DataPaths) -> Vault:
    """Replaces conftest's `vault` beside `verifier_paths`: the verifier's own keys."""
    return vault_for(paths)
