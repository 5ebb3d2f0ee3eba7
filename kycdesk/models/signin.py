"""The door of the app: who may open which store, as a state machine the sign-in and lock
screens draw (views/signin_screen.py) and the app acts on (kycdesk/gate.py).

Every call into the verifier registry runs on one background lane (`SIGN_IN_LANE`, one
thread, so calls keep their order): unlocking a key ring is an argon2id of ~0.15 s (more
on a tablet's Atom), and the registry reads and replaces files — none of that may happen
in the GUI thread. The model is busy while a call is out (the screen disables its
buttons) and its state changes only in the GUI thread, when the answer is back.

States (`Door`):
- CHOOSE: the verifiers of this tablet as large buttons; FIRST_USE when there are none.
- PIN: one verifier chosen, their PIN asked; after wrong PINs a countdown (`wait_s`) until
  the next attempt is allowed. `unlocking` is True when it is the lock screen of a
  verifier who was signed in (the app returns to where they were).
- NEW_VERIFIER: name, the rules, the passphrase typed twice.
- LOCKED: too many wrong PINs and cases not yet sent: only a supervisor's unlock code
  (or a release from the office at another verifier's sync) opens it again.
- LEASE: the PIN was right but the tablet has not reached the server for too long: "Try to
  reach the server" or a supervisor's code renews the lease.
The registry's refusals (kycdesk/verifiers/errors.py) are in the verifier's words; this
model shows them as they are.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from PySide6.QtCore import QObject, QTimer, Signal

from kycdesk.background import Lane, run_task
from kycdesk.core.errors import StoreError
from kycdesk.security.errors import SecurityError
from kycdesk.verifiers.errors import (
    LeaseExpiredError,
    PinRuleError,
    TooSoonError,
    VerifierError,
    VerifierLockedError,
    VerifierWipedError,
    WrongPinAttemptError,
)
from kycdesk.verifiers.pin_rules import PinPolicy, rules_text

if TYPE_CHECKING:
    from kycdesk.paths import DataPaths
    from kycdesk.security.vault import Vault

log = logging.getLogger(__name__)

T = TypeVar("T")

# What the "New verifier" page shows under the organisation's rules (`rules_text`).
WHY_IT_MATTERS = (
    "You type it each time you start kycdesk and after it locks. Nobody can read your "
    "cases on this tablet without it — not even the office, except with the "
    "organisation's recovery key.")


class VerifierShown(Protocol):
    """What the sign-in screen may show of a verifier (`registry.VerifierInfo`)."""

    @property
    def verifier_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def failures(self) -> int: ...
    @property
    def retry_at(self) -> datetime | None: ...
    @property
    def locked(self) -> str | None: ...


class SignedIn(Protocol):
    """A signed-in verifier (`registry.Session`): their store and the keys to open it."""

    @property
    def verifier_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def paths(self) -> DataPaths: ...
    @property
    def vault(self) -> Vault: ...


class VerifierRegistry(Protocol):
    """The part of `kycdesk.verifiers.registry.Registry` the door uses. Every method
    may block (argon2id, files): the model calls them on `SIGN_IN_LANE` only."""

    @property
    def policy(self) -> PinPolicy: ...
    def verifiers(self) -> Sequence[VerifierShown]: ...
    def add(self, name: str, pin: str) -> SignedIn: ...
    def sign_in(self, verifier_id: str, pin: str) -> SignedIn: ...
    def check_pin(self, verifier_id: str, pin: str) -> SignedIn: ...
    # `session` is a session this registry handed out (its own type: hence Any here).
    def change_pin(self, session: Any, old_pin: str, new_pin: str) -> SignedIn: ...
    def release_with_code(self, verifier_id: str, code: str) -> None: ...
    def extend_lease_with_code(self, session: Any, code: str) -> None: ...


# (the session whose lease ran out) -> None once the server renewed it; raises with a
# message in the verifier's words otherwise. Blocks (network): run on the lane.
ReachServer = Callable[[SignedIn], None]


class Door(Enum):
    STARTING = "starting"
    FIRST_USE = "first-use"
    CHOOSE = "choose"
    PIN = "pin"
    NEW_VERIFIER = "new-verifier"
    LOCKED = "locked"
    LEASE = "lease"


@dataclass(frozen=True)
class Chosen:
    """The verifier the PIN page is for (a copy: the registry's list may change)."""

    verifier_id: str
    name: str
    retry_at: datetime | None = None
    failures: int = 0


@functools.cache
def sign_in_lane() -> Lane:
    """One thread: registry calls keep their order and never run two at once."""
    return Lane("sign-in", threads=1)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SignInModel(QObject):
    """The door's state; views call its methods and redraw on `changed`."""

    changed = Signal()
    signedIn = Signal(object)       # SignedIn: open the store with its vault
    pinChecked = Signal(object)     # SignedIn: the PIN asked by `confirm_pin` was right
    pinChanged = Signal(object)     # SignedIn: after `change_pin`
    pinChangeRefused = Signal(str)
    lockedOut = Signal()            # too many wrong PINs while a store was open

    def __init__(self, open_registry: Callable[[], VerifierRegistry], *,
                 reach_server: ReachServer | None = None,
                 now: Callable[[], datetime] = _utc_now) -> None:
        super().__init__()
        self._open_registry = open_registry
        self._registry: VerifierRegistry | None = None
        self._reach_server = reach_server
        self._now = now
        self.door = Door.STARTING
        self.verifiers: list[VerifierShown] = []
        self.chosen: Chosen | None = None
        self.unlocking = False       # the lock screen of a verifier who was signed in
        self.message = ""            # what went wrong, in the verifier's words
        self.notice = ""             # what went right (e.g. "Unlocked by your supervisor")
        self.busy = False
        self.rules = rules_text(PinPolicy())  # the organisation's, once the list is read
        self._lease_session: SignedIn | None = None
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._count_down)

    # -- reading ------------------------------------------------------------------------
    def wait_s(self) -> int:
        """Seconds until the chosen verifier may try a PIN again (0: now)."""
        if self.chosen is None or self.chosen.retry_at is None:
            return 0
        left = (self.chosen.retry_at - self._now()).total_seconds()
        return max(0, int(left + 0.999))

    def may_try(self) -> bool:
        return not self.busy and self.door is Door.PIN and self.wait_s() == 0

    # -- the lane -----------------------------------------------------------------------
    def _call(self, work: Callable[[VerifierRegistry], T], done: Callable[[T], None],
              *, name: str, failed: Callable[[Exception], None] | None = None) -> None:
        """`work(registry)` on the sign-in lane; `done`/`failed` back in the GUI thread.
        A refusal the registry explains (VerifierError) goes to `failed`; anything else
        is a bug for the app's one error handler."""
        self.busy = True
        self.changed.emit()
        opener = self._open_registry
        holder = self

        def run(_control: object) -> T:
            if holder._registry is None:  # opened once, on the lane (files)
                holder._registry = opener()
            return work(holder._registry)

        def ok(value: T) -> None:
            self.busy = False
            done(value)
            self.changed.emit()

        def bad(error: Exception) -> None:
            self.busy = False
            if failed is not None and isinstance(error, VerifierError):
                failed(error)
                self.changed.emit()
                return
            # Not a refusal the registry explains: a damaged registry or key ring, a disk
            # that refuses the write, a store the migration cannot read. The verifier is
            # told (the screen never sits silent); details go to the log, without data.
            log.error("%s failed: %s", name, type(error).__name__)
            self.message = (str(error) if isinstance(error, StoreError | SecurityError
                                                     | OSError)
                            and str(error) else "Something went wrong on this tablet; "
                            "try again, and tell your supervisor if it happens again.")
            if isinstance(error, OSError):
                self.message = ("The tablet's storage refused the change "
                                f"({error.strerror or type(error).__name__}); nothing was "
                                "changed. Try again, or tell your supervisor.")
            self.changed.emit()

        run_task(run, ok, on_error=bad, name=name, lane=sign_in_lane())

    # -- the list -----------------------------------------------------------------------
    def start(self) -> None:
        """Open the registry and list the verifiers (both on the lane)."""
        self.refresh()

    def refresh(self, then: Callable[[], None] | None = None) -> None:
        def listed(answer: tuple[list[VerifierShown], str]) -> None:
            found, self.rules = answer
            self.verifiers = found
            if self.chosen is not None:
                again = next((v for v in found if v.verifier_id == self.chosen.verifier_id),
                             None)
                if again is None:  # wiped after too many wrong PINs, or removed
                    self.chosen = None
                    self.unlocking = False
                    self.door = Door.FIRST_USE if not found else Door.CHOOSE
                else:
                    self.chosen = _chosen(again)
                    if again.locked == "wrong-pin":
                        self.door = Door.LOCKED
            if self.door in (Door.STARTING, Door.CHOOSE, Door.FIRST_USE):
                self.door = Door.CHOOSE if found else Door.FIRST_USE
            self._keep_counting()
            if then is not None:
                then()

        self._call(lambda registry: (list(registry.verifiers()), rules_text(registry.policy)),
                   listed, name="verifiers")

    def choose(self, verifier_id: str) -> None:
        shown = next((v for v in self.verifiers if v.verifier_id == verifier_id), None)
        if shown is None or self.busy:
            return
        self.chosen = _chosen(shown)
        self.message = self.notice = ""
        self.door = Door.LOCKED if shown.locked == "wrong-pin" else Door.PIN
        self._keep_counting()
        self.changed.emit()

    def back(self) -> None:
        """To the list of verifiers (also the lock screen's "Switch verifier")."""
        if self.busy:
            return
        self.chosen = None
        self.unlocking = False
        self._lease_session = None
        self.message = self.notice = ""
        self.door = Door.CHOOSE if self.verifiers else Door.FIRST_USE
        self._tick.stop()
        self.changed.emit()
        self.refresh()

    # -- the PIN ------------------------------------------------------------------------
    def submit_pin(self, pin: str) -> None:
        chosen = self.chosen
        if chosen is None or not self.may_try() or not pin:
            return
        self.message = self.notice = ""
        self._call(lambda registry: registry.sign_in(chosen.verifier_id, pin),
                   self._signed_in, failed=self._pin_refused, name="sign-in")

    def show_progress(self, message: str) -> None:
        """Long work after the PIN was accepted, said on the door while it runs (the
        cases from before sign-in being moved in and encrypted: verifiers/migration.py)."""
        self.notice = message
        self.changed.emit()

    def _signed_in(self, session: SignedIn) -> None:
        self.message = self.notice = ""
        self._tick.stop()
        self.signedIn.emit(session)

    def _pin_refused(self, error: Exception) -> None:
        chosen = self.chosen
        if chosen is None:
            return
        if isinstance(error, LeaseExpiredError):
            self._lease_session = error.session
            self.door = Door.LEASE
            self.message = str(error)
            return
        if isinstance(error, VerifierWipedError):
            self.chosen = None
            self.unlocking = False
            self.door = Door.CHOOSE
            self.message = str(error)
            self.refresh()
            return
        if isinstance(error, VerifierLockedError):
            self.door = Door.LOCKED
            self.notice, self.message = str(error), ""  # message: for the code's answer
            self.refresh()
            return
        if isinstance(error, WrongPinAttemptError | TooSoonError):
            self.chosen = Chosen(chosen.verifier_id, chosen.name, error.retry_at,
                                 chosen.failures + 1)
            self.message = str(error)
            self._keep_counting()
            self.refresh()  # a wipe at the last attempt takes the verifier off the list
            return
        self.message = str(error)

    def confirm_pin(self, pin: str) -> None:
        """The signed-in verifier's PIN asked again (leaving kiosk mode): `pinChecked`
        when it is right; wrong ones count as at sign-in (same delay, same lock)."""
        chosen = self.chosen
        if chosen is None or self.busy or not pin or self.wait_s() > 0:
            return
        self.message = ""

        def right(session: SignedIn) -> None:
            self.pinChecked.emit(session)

        def wrong(error: Exception) -> None:
            if isinstance(error, LeaseExpiredError):  # the PIN was right
                self.pinChecked.emit(error.session)
                return
            self._pin_refused(error)
            if self.door is Door.LOCKED:
                self.lockedOut.emit()  # the gate closes the store; the code page shows
            else:
                self.door = Door.PIN

        self._call(lambda registry: registry.check_pin(chosen.verifier_id, pin), right,
                   failed=wrong, name="confirm PIN")

    def _keep_counting(self) -> None:
        if self.wait_s() > 0:
            self._tick.start()
        else:
            self._tick.stop()

    def _count_down(self) -> None:
        if self.wait_s() == 0:
            self._tick.stop()
            self.message = "" if self.door is Door.PIN else self.message
        self.changed.emit()

    # -- lock screen --------------------------------------------------------------------
    def lock(self, verifier_id: str, name: str) -> None:
        """The signed-in verifier's lock screen: their PIN only (or Switch verifier)."""
        self.chosen = Chosen(verifier_id, name)
        self.unlocking = True
        self.message = ""
        self.notice = "Locked. Enter your PIN to return to where you were."
        self.door = Door.PIN
        self.changed.emit()
        self.refresh()  # their delay, if wrong PINs were typed before the lock

    def signed_out(self) -> None:
        """Back to the list after a sign-out (verifier switch)."""
        self.chosen = None
        self.unlocking = False
        self.notice = "Signed out."
        self.message = ""
        self.door = Door.CHOOSE
        self.changed.emit()
        self.refresh()

    def revoked(self, wipe: Callable[[], None], *, whole_tablet: bool) -> None:
        """The office revoked this tablet or this verifier's device: the data is wiped
        (resumed at the next start if this is interrupted), then the list shows who is
        left."""
        whose = ("every verifier's cases and photos on it were" if whole_tablet
                 else "this verifier's cases and photos were")
        what = "this tablet" if whole_tablet else "this verifier on this tablet"
        self.chosen = None
        self.unlocking = False
        self.busy = True
        self.message = ""
        self.notice = f"The office has revoked {what}. Removing the data…"
        self.door = Door.CHOOSE
        self.changed.emit()

        def wiped(_none: None) -> None:
            self.busy = False
            self.notice = (f"The office has revoked {what}: {whose} removed. Ask your "
                           "administrator before using it again.")
            self.refresh()

        def failed(error: Exception) -> None:
            self.busy = False
            self.notice = ""
            self.message = (f"The office has revoked {what}, and removing the data "
                            f"stopped ({error}); it finishes when kycdesk starts again.")
            self.changed.emit()

        run_task(lambda _control: wipe(), wiped, on_error=failed, name="revocation wipe",
                 lane=sign_in_lane())

    # -- new verifier -------------------------------------------------------------------
    def start_new(self) -> None:
        if self.busy:
            return
        self.chosen = None
        self.unlocking = False
        self.message = self.notice = ""
        self.door = Door.NEW_VERIFIER
        self.changed.emit()

    def create(self, name: str, pin: str, repeated: str) -> None:
        """A new verifier on this tablet (first use): the rules are the registry's."""
        name = " ".join(name.split())
        if not name:
            self._say("Enter your name as your colleagues know it (first name or initials).")
            return
        if any(v.name.casefold() == name.casefold() for v in self.verifiers):
            self._say(f"{name} already signs in on this tablet: choose your name in the "
                      "list, or add a distinguishing initial.")
            return
        if pin != repeated:
            self._say("The two passphrases are not the same: type it again in both boxes.")
            return
        self.message = ""
        self._call(lambda registry: registry.add(name, pin), self._signed_in,
                   failed=self._create_refused, name="new verifier")

    def _create_refused(self, error: Exception) -> None:
        self.message = str(error) if isinstance(error, PinRuleError | VerifierError) \
            else "The verifier could not be added."

    def _say(self, message: str) -> None:
        self.message = message
        self.changed.emit()

    # -- supervisor codes, the lease ------------------------------------------------------
    def release(self, code: str) -> None:
        """A supervisor's unlock code for a verifier locked by wrong PINs."""
        chosen = self.chosen
        code = code.strip()
        if chosen is None or not code:
            return

        def released(_none: None) -> None:
            self.chosen = Chosen(chosen.verifier_id, chosen.name)
            self.door = Door.PIN
            self.message = ""
            self.notice = "Unlocked by your supervisor's code. Enter your PIN."

        self._call(lambda registry: registry.release_with_code(chosen.verifier_id, code),
                   released, failed=self._code_refused, name="release code")

    def extend_lease(self, code: str) -> None:
        session = self._lease_session
        code = code.strip()
        if session is None or not code:
            return

        def extended(_none: None) -> None:
            self._lease_session = None
            self._signed_in(session)

        self._call(lambda registry: registry.extend_lease_with_code(session, code),
                   extended, failed=self._code_refused, name="lease code")

    def _code_refused(self, error: Exception) -> None:
        self.message = str(error)

    def can_reach_server(self) -> bool:
        return self._reach_server is not None

    def reach_server(self) -> None:
        """The lease page's "Try to reach the server": a renewed lease signs in."""
        session, reach = self._lease_session, self._reach_server
        if session is None or reach is None or self.busy:
            return
        self.message = ""
        self.notice = "Trying to reach the server…"

        def reached(_none: None) -> None:
            self._lease_session = None
            self.notice = ""
            self._signed_in(session)

        def unreachable(error: Exception) -> None:
            self.busy = False
            self.notice = ""
            self.message = (f"The server could not be reached: {error}" if str(error)
                            else "The server could not be reached.")
            self.changed.emit()

        self.busy = True
        self.changed.emit()
        run_task(lambda _control: reach(session), reached, on_error=unreachable,
                 name="reach server", lane=sign_in_lane())

    # -- change PIN -------------------------------------------------------------------------
    def change_pin(self, session: SignedIn, old: str, new: str, repeated: str) -> None:
        if new != repeated:
            self.pinChangeRefused.emit("The two new passphrases are not the same.")
            return
        if not old:
            self.pinChangeRefused.emit("Enter your current passphrase first.")
            return

        def changed(fresh: SignedIn) -> None:
            self.pinChanged.emit(fresh)

        def refused(error: Exception) -> None:
            self.pinChangeRefused.emit(str(error))

        self._call(lambda registry: registry.change_pin(session, old, new), changed,
                   failed=refused, name="change PIN")


def _chosen(shown: VerifierShown) -> Chosen:
    return Chosen(shown.verifier_id, shown.name, shown.retry_at, shown.failures)
