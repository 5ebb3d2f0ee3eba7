"""Exit codes of every `kycdesk` command, in one place (scripts and kiosks rely on them)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    PROBLEMS = 1         # doctor: something needs a person; sync: a case failed
    STORE_UNUSABLE = 2   # the store (or the app) cannot be opened
    AUTH = 3             # sync: server address or token missing or refused
    OFFLINE = 4          # sync: the server cannot be reached
