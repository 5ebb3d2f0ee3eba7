"""Reading a verifier's store back as plain values, for the proofs that nothing was lost
(migration, crashes): every case's answers and every photo's bytes."""

from __future__ import annotations

from typing import Any

from kycdesk.paths import DataPaths
from kycdesk.security.vault import Vault


def read_store(paths: DataPaths, vault: Vault) -> dict[str, tuple[dict[str, Any],
                                                                   dict[str, bytes]]]:
    """case id -> (answers with pending keystrokes applied, {client image id: bytes})."""
    from kycdesk.persistence.encrypted_files import photo_context, read_decrypted
    from kycdesk.persistence.store import LocalStore

    held: dict[str, tuple[dict[str, Any], dict[str, bytes]]] = {}
    with LocalStore(paths, vault=vault) as store:
        ids = [str(r[0]) for r in store.conn.query_all("SELECT id FROM cases")]
        for case_id in ids:
            form = dict(store.load_case(case_id).form)
            photos = {str(img.client_image_id): read_decrypted(
                vault, paths.absolute(img.file_path), photo_context(case_id))
                for img in store.list_images(case_id)}
            held[case_id] = (form, photos)
    return held
