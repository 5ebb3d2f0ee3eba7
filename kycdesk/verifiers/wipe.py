"""Removing a verifier's (or the whole tablet's) data: keys first, then files.

Order, each step durable before the next:
1. the wipe marker (`TabletPaths.wipe_marker`) names what is being wiped;
2. the registry record(s) — the key rings — leave the registry file (replaced and
   fsynced by `Registry`): from here on every remaining byte is ciphertext without a
   key, whatever happens next;
3. the verifier's folder (their whole store), or for the tablet every verifier's folder
   and the pre-verifier clear store's files, unlinked; folders fsynced;
4. the marker is removed.
A kill or a locked file at any step leaves the marker: `Registry.open` finishes the
wipe at the next start. What unlinking cannot guarantee on flash storage is in
docs/security.md (*Out of scope*).
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from kycdesk.paths import (
    CAPTURES_DIRNAME,
    CASES_DIRNAME,
    DB_FILENAME,
    DOWNLOADS_DIRNAME,
    LOST_AND_FOUND_DIRNAME,
    TabletPaths,
)
from kycdesk.persistence.files import fsync_dir, replace_durably, unlink_quietly

log = logging.getLogger(__name__)

# What a store before issue 18 kept at the data root (persistence: device.py,
# full_check.py, intents.py), removed by a whole-tablet wipe; logs stay.
_LEGACY_DIRS = (CASES_DIRNAME, CAPTURES_DIRNAME, DOWNLOADS_DIRNAME, LOST_AND_FOUND_DIRNAME,
                "intents")
_LEGACY_FILES = ("device-id", "full-check.json")
# migration.py's phase marker (the same name: tests/test_legacy_migration.py holds them
# equal), read here without importing the migration.
LEGACY_MIGRATION_MARKER = "legacy-migration.json"


@dataclass(frozen=True)
class WipeOrder:
    verifier_ids: frozenset[str]
    whole_tablet: bool

    def merged(self, other: WipeOrder | None) -> WipeOrder:
        if other is None:
            return self
        return WipeOrder(self.verifier_ids | other.verifier_ids,
                         self.whole_tablet or other.whole_tablet)


def read_marker(tablet: TabletPaths) -> WipeOrder | None:
    try:
        text = tablet.wipe_marker.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
        return WipeOrder(frozenset(str(v) for v in data["verifiers"]),
                         bool(data["whole_tablet"]))
    except (ValueError, KeyError, TypeError):
        # The marker is written whole (replace_durably): unreadable means changed by
        # hand. A wipe was asked for; wiping everything is the side that leaks nothing.
        log.warning("wipe marker unreadable: wiping the whole tablet")
        return WipeOrder(frozenset(), True)


def write_marker(tablet: TabletPaths, order: WipeOrder) -> WipeOrder:
    """Step 1 (merged with a wipe still unfinished); returns what is now to be wiped."""
    order = order.merged(read_marker(tablet))
    data = {"verifiers": sorted(order.verifier_ids), "whole_tablet": order.whole_tablet}
    replace_durably(tablet.wipe_marker, json.dumps(data).encode("utf-8"))
    return order


def remove_files(tablet: TabletPaths, order: WipeOrder) -> bool:
    """Step 3 and 4. False (marker kept, the next start retries) if a file could not be
    removed, e.g. held open by another program on Windows."""
    try:
        if order.whole_tablet:
            _remove_tree(tablet.verifiers_dir)
            _remove_legacy_store(tablet)
        else:
            for verifier_id in sorted(order.verifier_ids):
                if _was_migrating(tablet, verifier_id):
                    _drop_migration(tablet, verifier_id)
                else:
                    _remove_tree(tablet.store(verifier_id).root)
            if tablet.verifiers_dir.exists():
                fsync_dir(tablet.verifiers_dir)
        unlink_quietly(tablet.wipe_marker)
        fsync_dir(tablet.root)
    except OSError as exc:
        log.warning("wipe not finished (the next start continues it): %s", exc)
        return False
    return True


def _was_migrating(tablet: TabletPaths, verifier_id: str) -> bool:
    """Whether the migration's marker names this verifier (read here without importing
    the migration, which loads the store and Qt: a wipe runs in the plain tier too)."""
    try:
        data = json.loads((tablet.root / LEGACY_MIGRATION_MARKER).read_text("utf-8"))
        return str(data["verifier_id"]) == verifier_id
    except (OSError, ValueError, KeyError, TypeError):  # none, or unreadable: the
        return False  # migration's own start says so


def _drop_migration(tablet: TabletPaths, verifier_id: str) -> None:
    """A verifier wiped while the clear store from before was being moved into their
    folder: that folder may still hold clear photos, so it is overwritten, not only
    removed; then the migration's marker goes, so the next verifier to sign in takes
    what is left of the clear store (it stays whole at the root until the last step)."""
    from kycdesk.verifiers.shred import shred_tree

    shred_tree(tablet.store(verifier_id).root)
    unlink_quietly(tablet.root / LEGACY_MIGRATION_MARKER)


def _remove_tree(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
        fsync_dir(folder.parent)


def _remove_legacy_store(tablet: TabletPaths) -> None:
    """The clear store from before issue 18 (if a migration never finished): its files
    are overwritten with zeros before they go, as the migration itself does (shred.py;
    docs/security.md says what overwriting cannot promise on flash)."""
    from kycdesk.verifiers.shred import shred_database, shred_tree

    for name in _LEGACY_DIRS:
        shred_tree(tablet.root / name)
    shred_database(tablet.legacy_store().database)
    for path in tablet.root.glob(f"{DB_FILENAME}*"):  # anything else SQLite left
        unlink_quietly(path)
    for name in (*_LEGACY_FILES, LEGACY_MIGRATION_MARKER):
        unlink_quietly(tablet.root / name)
