"""One result per request: every write handed to the persistence writer gets exactly
one `Result`, delivered to whoever asked (success with its value, or a typed error).

Typed by the command's result: `submit(CreateCase(...), done)` hands `done` a
`Result[str]`, so strict mypy checks what each caller does with the value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar, cast

from kycdesk.core.errors import StoreError

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Result(Generic[T_co]):
    """The value of a request that succeeded, or its error. Read `value` only when `ok`
    (reading it from a failed result raises that error: no value is ever made up)."""

    __slots__ = ("_value", "error")

    def __init__(self, value: T_co | None = None, error: StoreError | None = None) -> None:
        self._value = value
        self.error = error

    @classmethod
    def success(cls, value: T) -> Result[T]:
        return Result(value=value)

    @classmethod
    def failure(cls, error: StoreError) -> Result[T]:
        return Result(error=error)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def value(self) -> T_co:
        """The value; raises the error of a failed request."""
        if self.error is not None:
            raise self.error
        # A successful result was built from its command's value (which may be None for
        # a command that returns nothing), so the stored value is a T_co.
        return cast(T_co, self._value)

    def unwrap(self) -> T_co:
        """The value, or raise the error (for code that waits for a result)."""
        return self.value

    def __repr__(self) -> str:
        return f"Result(error={self.error!r})" if self.error else f"Result({self._value!r})"


Done = Callable[[Result[T]], None]
