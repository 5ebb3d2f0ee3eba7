"""Release side of signed updates (docs/updates.md): keys, repository, publish, install.

    python tools/release.py keys --out KEYS                   (offline: the key ceremony)
    python tools/release.py init --keys KEYS --repo REPO      (offline: signs 1.root.json)
    python tools/release.py publish --keys KEYS --repo REPO --bundle dist/kycdesk --version V
    python tools/release.py snapshot --keys KEYS --repo REPO  (daily: snapshot + timestamp)
    python tools/release.py targets --keys KEYS --repo REPO   (monthly, or before 90 days)
    python tools/release.py timestamp --keys KEYS --repo REPO (the timestamp only)
    python tools/release.py install --repo REPO --bundle B --version V --to INSTALL --url URL

Keys are Ed25519 in PKCS#8 PEM (securesystemslib's CryptoSigner over `cryptography`).
The repository uses consistent snapshots: metadata `N.snapshot.json`/`N.targets.json`,
targets stored under `<sha256>.<name>`; every file written to a temporary name, fsynced,
renamed; the timestamp last, so a client never sees a release whose files are missing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from securesystemslib.signer import CryptoSigner, Signer
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

ROOT_DIR = Path(__file__).resolve().parent.parent
if str(ROOT_DIR) not in sys.path:
    sys.path.insert(0, str(ROOT_DIR))

from kycdesk.update.manifest import (  # noqa: E402
    LATEST,
    Manifest,
    blob_target,
    manifest_target,
    scan_bundle,
    stamp_bytes,
)
from kycdesk.update.pointer import (  # noqa: E402
    RELEASE_STAMP,
    InstallRoot,
    State,
    is_newer,
    valid_version,
    write_atomic,
    write_state,
)

ROLES = ("root", "targets", "snapshot", "timestamp")
EXPIRY_DAYS = {"root": 365.0, "targets": 90.0, "snapshot": 7.0, "timestamp": 1.0}
COMMANDS = {  # the signing commands (each takes --keys, --repo and the expiry options)
    "init": "sign 1.root.json and empty targets (offline)",
    "publish": "publish a bundle as a new release",
    "snapshot": "the daily job: re-sign snapshot and timestamp",
    "targets": "re-sign targets (then snapshot, timestamp) before they expire",
    "timestamp": "re-sign the timestamp only",
}


def _expires(days: float) -> datetime:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


# -- keys -------------------------------------------------------------------------------
def make_keys(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for role in ROLES:
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        path = out / f"{role}.pem"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        public = CryptoSigner(key).public_key
        (out / f"{role}.pub").write_text(json.dumps(public.to_dict() | {"keyid": public.keyid}))


def signer(keys: Path, role: str) -> CryptoSigner:
    path = keys / f"{role}.pem"
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise SystemExit(f"The {role} key is not in {keys} ({path.name} missing).") from None
    return CryptoSigner(key)


# -- repository files -------------------------------------------------------------------
def _write(path: Path, data: bytes) -> None:
    write_atomic(path, data)


def _save(repo: Path, name: str, md: Metadata[Any], sign_with: Signer) -> bytes:
    md.signatures.clear()
    md.sign(sign_with)
    data = md.to_bytes(JSONSerializer(compact=False))
    _write(repo / "metadata" / name, data)
    return data


def init_repo(keys: Path, repo: Path, expiry: dict[str, float]) -> None:
    if (repo / "metadata" / "1.root.json").exists():
        raise SystemExit(f"{repo} already has a root; it is never re-created.")
    signers = {role: signer(keys, role) for role in ROLES}
    root = Root(expires=_expires(expiry["root"]), consistent_snapshot=True)
    for role in ROLES:
        root.add_key(signers[role].public_key, role)
    _save(repo, "1.root.json", Metadata(root), signers["root"])
    targets = Targets(version=1, expires=_expires(expiry["targets"]))
    _save(repo, "1.targets.json", Metadata(targets), signers["targets"])
    snapshot = Snapshot(version=1, expires=_expires(expiry["snapshot"]),
                        meta={"targets.json": MetaFile(version=1)})
    _save(repo, "1.snapshot.json", Metadata(snapshot), signers["snapshot"])
    timestamp = Timestamp(version=1, expires=_expires(expiry["timestamp"]),
                          snapshot_meta=MetaFile(version=1))
    _save(repo, "timestamp.json", Metadata(timestamp), signers["timestamp"])
    (repo / "targets").mkdir(parents=True, exist_ok=True)


Current = tuple[Metadata[Timestamp], Metadata[Snapshot], Metadata[Targets]]


def _load(repo: Path, name: str) -> Metadata[Any]:
    return Metadata.from_file(str(repo / "metadata" / name))


def _current(repo: Path) -> Current:
    timestamp: Metadata[Timestamp] = _load(repo, "timestamp.json")
    snap_v = timestamp.signed.snapshot_meta.version
    snapshot: Metadata[Snapshot] = _load(repo, f"{snap_v}.snapshot.json")
    targets_v = snapshot.signed.meta["targets.json"].version
    targets: Metadata[Targets] = _load(repo, f"{targets_v}.targets.json")
    return timestamp, snapshot, targets


def _store_target(repo: Path, target: str, data: bytes | Path) -> TargetFile:
    """A target under its consistent-snapshot name `<dir>/<sha256>.<name>` (content once)."""
    digest = hashlib.sha256(data if isinstance(data, bytes)
                            else data.read_bytes()).hexdigest()
    size = len(data) if isinstance(data, bytes) else data.stat().st_size
    folder, _, name = target.rpartition("/")
    path = repo / "targets" / folder / f"{digest}.{name}"
    if not path.exists():
        if isinstance(data, bytes):
            _write(path, data)
        else:
            temp = path.with_name(f".{path.name}.tmp")
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(data, temp)
            with temp.open("rb+") as f:
                os.fsync(f.fileno())
            temp.replace(path)
    return TargetFile(length=size, hashes={"sha256": digest}, path=target)


def latest_version(targets: Targets) -> str | None:
    versions = [p.removeprefix("releases/").removesuffix(".json")
                for p in targets.targets if p.startswith("releases/")]
    best: str | None = None
    for v in versions:
        if best is None or is_newer(v, best):
            best = v
    return best


def publish(keys: Path, repo: Path, bundle: Path, version: str,
            expiry: dict[str, float]) -> Manifest:
    if not valid_version(version):
        raise SystemExit(f"Version {version!r}: use numbers only, e.g. 1.4.0 (at most 4 parts).")
    timestamp, snapshot, targets = _current(repo)
    latest = latest_version(targets.signed)
    if latest is not None and not is_newer(version, latest):
        raise SystemExit(f"Version {version} is not newer than the published {latest}: "
                         "a release is never replaced or rolled back.")
    if not (bundle / ("kycdesk.exe" if (bundle / "kycdesk.exe").exists() else "kycdesk")).is_file():
        raise SystemExit(f"{bundle} holds no kycdesk executable: not a bundle folder.")
    manifest = scan_bundle(bundle, version)
    known = {t.hashes["sha256"] for t in targets.signed.targets.values()}
    for rel, entry in manifest.files.items():
        if entry.link is not None or entry.sha256 in known:
            continue
        source: bytes | Path = stamp_bytes(version) if rel == RELEASE_STAMP else bundle / rel
        info = _store_target(repo, blob_target(entry.sha256), source)
        targets.signed.targets[info.path] = info
        known.add(entry.sha256)
    manifest_bytes = manifest.to_bytes()
    info = _store_target(repo, manifest_target(version), manifest_bytes)
    targets.signed.targets[info.path] = info
    latest_bytes = json.dumps({"version": version, "manifest": manifest_target(version)}).encode()
    info = _store_target(repo, LATEST, latest_bytes)
    targets.signed.targets[info.path] = info

    _resign_targets(keys, repo, (timestamp, snapshot, targets), expiry)
    return manifest



def _resign_targets(keys: Path, repo: Path, current: Current,
                    expiry: dict[str, float]) -> None:
    timestamp, snapshot, targets = current
    targets.signed.version += 1
    targets.signed.expires = _expires(expiry["targets"])
    _save(repo, f"{targets.signed.version}.targets.json", targets, signer(keys, "targets"))
    snapshot.signed.meta["targets.json"] = MetaFile(version=targets.signed.version)
    _resign_snapshot(keys, repo, timestamp, snapshot, expiry)


def _resign_snapshot(keys: Path, repo: Path, timestamp: Metadata[Timestamp],
                     snapshot: Metadata[Snapshot], expiry: dict[str, float]) -> None:
    snapshot.signed.version += 1
    snapshot.signed.expires = _expires(expiry["snapshot"])
    _save(repo, f"{snapshot.signed.version}.snapshot.json", snapshot, signer(keys, "snapshot"))
    _resign_timestamp(keys, repo, timestamp, snapshot.signed.version, expiry["timestamp"])


def resign_snapshot(keys: Path, repo: Path, expiry: dict[str, float]) -> None:
    """The daily job: a fresh snapshot and timestamp over the current targets (snapshot
    and timestamp keys). The timestamp alone is not enough: a client refuses an expired
    snapshot (7 days) however fresh the timestamp is."""
    timestamp, snapshot, _targets = _current(repo)
    _resign_snapshot(keys, repo, timestamp, snapshot, expiry)


def resign_targets(keys: Path, repo: Path, expiry: dict[str, float]) -> None:
    """Before the targets expire (90 days) with no release in between: the same targets
    signed again (targets key, on the release machine), then snapshot and timestamp."""
    _resign_targets(keys, repo, _current(repo), expiry)


def _resign_timestamp(keys: Path, repo: Path, timestamp: Metadata[Timestamp],
                      snapshot_version: int, days: float) -> None:
    timestamp.signed.snapshot_meta = MetaFile(version=snapshot_version)
    timestamp.signed.version += 1
    timestamp.signed.expires = _expires(days)
    _save(repo, "timestamp.json", timestamp, signer(keys, "timestamp"))


def resign_timestamp(keys: Path, repo: Path, days: float) -> None:
    """The daily job: a fresh timestamp over the current snapshot (timestamp key only)."""
    timestamp, snapshot, _targets = _current(repo)
    _resign_timestamp(keys, repo, timestamp, snapshot.signed.version, days)


# -- a first install (what the Windows installer does; Linux kiosks and the tests) -----
def install(repo: Path, bundle: Path, version: str, to: Path, url: str, *,
            copy_function: Callable[[str, str], object] = shutil.copy2) -> None:
    if not valid_version(version):
        raise SystemExit(f"version {version!r}: use 1 to 4 numbers with dots, e.g. 1.4.0")
    root = InstallRoot(to)
    target = root.version_dir(version)
    if target.exists():
        raise SystemExit(f"{target} exists already.")
    staging = root.staging_dir(version)
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(bundle, staging, symlinks=True, copy_function=copy_function)
    (staging / RELEASE_STAMP).unlink(missing_ok=True)  # never through a hard link
    (staging / RELEASE_STAMP).write_bytes(stamp_bytes(version))
    staging.replace(target)
    root.metadata_dir.mkdir(parents=True, exist_ok=True)
    roots = sorted((repo / "metadata").glob("*.root.json"),
                   key=lambda p: int(p.name.split(".")[0]))
    shutil.copyfile(roots[-1], root.metadata_dir / "root.json")
    write_atomic(root.config_file, json.dumps({"repository": url}).encode())
    write_atomic(root.manifests / f"{version}.json", scan_bundle(target, version).to_bytes())
    write_state(root, State(current=version))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="release.py", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    keys = sub.add_parser("keys", help="create the four Ed25519 keys (offline)")
    keys.add_argument("--out", type=Path, required=True)
    for name, words in COMMANDS.items():
        p = sub.add_parser(name, help=words)
        p.add_argument("--keys", type=Path, required=True)
        p.add_argument("--repo", type=Path, required=True)
        for role in ROLES:
            p.add_argument(f"--{role}-days", type=float, default=EXPIRY_DAYS[role],
                           help=f"{role} metadata expires after this many days")
        if name == "publish":
            p.add_argument("--bundle", type=Path, required=True)
            p.add_argument("--version", required=True)
    inst = sub.add_parser("install", help="a first install from a bundle (Linux, tests)")
    inst.add_argument("--repo", type=Path, required=True)
    inst.add_argument("--bundle", type=Path, required=True)
    inst.add_argument("--version", required=True)
    inst.add_argument("--to", type=Path, required=True)
    inst.add_argument("--url", required=True, help="the repository's address")
    args = parser.parse_args(argv)
    if args.command == "keys":
        make_keys(args.out)
        print(f"keys written to {args.out}: move root.pem offline (docs/updates.md)")
        return 0
    if args.command == "install":
        install(args.repo, args.bundle, args.version, args.to, args.url)
        print(f"installed {args.version} under {args.to}")
        return 0
    expiry = {role: getattr(args, f"{role}_days") for role in ROLES}
    if args.command == "init":
        init_repo(args.keys, args.repo, expiry)
        print(f"repository initialised in {args.repo} (1.root.json signed)")
    elif args.command == "publish":
        manifest = publish(args.keys, args.repo, args.bundle, args.version, expiry)
        print(f"published {manifest.version}: {len(manifest.files)} files, "
              f"{manifest.total_bytes / 1e6:.1f} MB")
    elif args.command == "snapshot":
        resign_snapshot(args.keys, args.repo, expiry)
        print("snapshot and timestamp re-signed")
    elif args.command == "targets":
        resign_targets(args.keys, args.repo, expiry)
        print("targets, snapshot and timestamp re-signed")
    else:
        resign_timestamp(args.keys, args.repo, expiry["timestamp"])
        print("timestamp re-signed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
