"""Which licences may ship inside the bundle: a verdict on an SPDX licence expression.

kycdesk is Apache-2.0 and closed-source deployments of it must stay possible, so a
component under the GPL or AGPL cannot ship in the bundle — unless the licence offers a
permissive or LGPL alternative (`OR`: we take that one) or an exception that allows
linking into other programs (`WITH`: PyInstaller's bootloader, GCC's runtime library).
LGPL is allowed: its obligations for Qt are met by the bundle's layout and the notices
(`kycdesk.notices.qt`). A component without a licence we can name is refused too: nobody
may redistribute what has no known licence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum


class Verdict(IntEnum):
    """Ordered worst first: an AND is as bad as its worst part, an OR as good as its best."""

    COPYLEFT = 0   # GPL / AGPL (strong copyleft over the whole program)
    UNKNOWN = 1    # no licence, or one we cannot name
    ALLOWED = 2


# Strong copyleft over the program that links it.
COPYLEFT = re.compile(r"^(A?GPL|SSPL)-")
# Exceptions that let a GPL component be linked into a program under another licence.
LINKING_EXCEPTIONS = frozenset({
    "Bootloader-exception",      # PyInstaller's bootloader, which runs the bundle
    "GCC-exception-3.1",         # libgcc, libstdc++, libgfortran (numpy's OpenBLAS)
    "GCC-exception-2.0",
    "Classpath-exception-2.0",
    "LLVM-exception",
})
# SPDX identifiers seen in the bundle's dependency tree and their common neighbours. An
# identifier outside this list makes the verdict UNKNOWN: someone reads the licence and
# adds it here (or to COPYLEFT's patterns) on purpose.
KNOWN = frozenset({
    "0BSD", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "BSL-1.0", "CC0-1.0", "ISC",
    "MIT", "MIT-0", "MIT-CMU", "MPL-2.0", "PSF-2.0", "Python-2.0", "Unicode-3.0",
    "Unicode-DFS-2016", "Unlicense", "Zlib", "HPND", "FTL", "IJG", "libpng-2.0",
    "LGPL-2.0-only", "LGPL-2.0-or-later", "LGPL-2.1-only", "LGPL-2.1-or-later",
    "LGPL-3.0-only", "LGPL-3.0-or-later",
    "GPL-2.0-only", "GPL-2.0-or-later", "GPL-3.0-only", "GPL-3.0-or-later",
    "AGPL-3.0-only", "AGPL-3.0-or-later",
})
_TOKEN = re.compile(r"\(|\)|[A-Za-z0-9.+:-]+")


class ExpressionError(ValueError):
    pass


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str


def judge(expression: str | None) -> Judgement:
    """The verdict on a licence expression (`None`: the package declares none)."""
    if not expression or not expression.strip():
        return Judgement(Verdict.UNKNOWN, "no licence declared")
    try:
        tokens = _TOKEN.findall(expression)
        if "".join(tokens) != re.sub(r"\s+", "", expression):
            raise ExpressionError(f"not an SPDX expression: {expression!r}")
        verdict, position = _or(tokens, 0)
        if position != len(tokens):
            raise ExpressionError(f"unexpected {tokens[position]!r} in {expression!r}")
    except ExpressionError as exc:
        return Judgement(Verdict.UNKNOWN, str(exc))
    reasons = {Verdict.ALLOWED: "allowed", Verdict.UNKNOWN: "a licence not on the list",
               Verdict.COPYLEFT: "GPL/AGPL without a linking exception or alternative"}
    return Judgement(verdict, reasons[verdict])


def _or(tokens: list[str], position: int) -> tuple[Verdict, int]:
    verdict, position = _and(tokens, position)
    while position < len(tokens) and tokens[position].upper() == "OR":
        other, position = _and(tokens, position + 1)
        verdict = max(verdict, other)
    return verdict, position


def _and(tokens: list[str], position: int) -> tuple[Verdict, int]:
    verdict, position = _with(tokens, position)
    while position < len(tokens) and tokens[position].upper() == "AND":
        other, position = _with(tokens, position + 1)
        verdict = min(verdict, other)
    return verdict, position


def _with(tokens: list[str], position: int) -> tuple[Verdict, int]:
    if position >= len(tokens):
        raise ExpressionError("the expression ends early")
    token = tokens[position]
    if token == "(":
        verdict, position = _or(tokens, position + 1)
        if position >= len(tokens) or tokens[position] != ")":
            raise ExpressionError("a parenthesis is not closed")
        return verdict, position + 1
    if token.upper() in ("AND", "OR", "WITH") or token == ")":
        raise ExpressionError(f"unexpected {token!r}")
    verdict = identifier_verdict(token)
    position += 1
    if position < len(tokens) and tokens[position].upper() == "WITH":
        if position + 1 >= len(tokens):
            raise ExpressionError("WITH names no exception")
        exception = tokens[position + 1]
        if verdict is Verdict.COPYLEFT and exception in LINKING_EXCEPTIONS:
            verdict = Verdict.ALLOWED
        position += 2
    return verdict, position


def identifier_verdict(identifier: str) -> Verdict:
    if identifier.startswith(("LGPL-", "LicenseRef-")):
        return Verdict.ALLOWED if identifier in KNOWN else Verdict.UNKNOWN
    if COPYLEFT.match(identifier):
        return Verdict.COPYLEFT
    return Verdict.ALLOWED if identifier in KNOWN else Verdict.UNKNOWN


def chosen(expression: str) -> str:
    """For the notices: which alternative of an OR we take (the first allowed one)."""
    alternatives = [part.strip() for part in re.split(r"\s+OR\s+", expression)]
    if "(" in expression or len(alternatives) == 1:
        return expression
    return next((part for part in alternatives
                 if judge(part).verdict is Verdict.ALLOWED), expression)
