"""Who is signed in to the back office: the one type every back-office route receives
(through the session dependency), so the review side never reads cookies itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["reviewer", "supervisor", "admin"]
ROLES: tuple[Role, ...] = ("reviewer", "supervisor", "admin")


@dataclass(frozen=True)
class Reviewer:
    """A signed-in back-office account (reviewer, supervisor or admin)."""

    id: str
    username: str
    role: Role

    def may_assign(self) -> bool:
        """Supervisors and admins assign cases to others; a reviewer takes them."""
        return self.role in ("supervisor", "admin")
