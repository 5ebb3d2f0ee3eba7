"""Encryption at rest for what the tablet holds (issue 18; design in docs/security.md).

Plain cryptography only: this package imports the standard library, `cryptography` and
`argon2` (an import-linter contract enforces it) — no Qt, no persistence — so the store,
the sync worker and the command line can all use it, and a reviewer can read it alone.

- `keys`: a data key per verifier; the PIN-derived key (argon2id) and the organisation's
  recovery public key (X25519) that wrap it; PIN change and rotation re-wrap keys.
- `sealing`: small values (answers, journal rows, events) sealed with AES-256-GCM, bound
  to their case and field, nonces unique by construction.
- `streams`: files (photos, thumbnails, exports) encrypted in 64 KiB chunks so a 5 MB
  photo is never held whole; truncation, reordering and splicing are detected.
"""

from kycdesk.security.errors import SecurityError, TamperedDataError, WrongPinError

__all__ = ["SecurityError", "TamperedDataError", "WrongPinError"]
