"""One result per request: every write handed to the persistence writer gets exactly
one `Result`, delivered to whoever asked (success with its value, or a typed error)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kycdesk.core.errors import StoreError


@dataclass(frozen=True)
class Result:
    value: Any = None
    error: StoreError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def unwrap(self) -> Any:
        """The value, or raise the error (for code that waits for a result)."""
        if self.error is not None:
            raise self.error
        return self.value


Done = Callable[[Result], None]
