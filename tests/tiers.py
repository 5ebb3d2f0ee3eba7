"""Test tiers, given to every test automatically (tests/conftest.py) so a new test file
gets its tier without edits:

- `unit`: plain Python — no Qt imported at all (checked: `pytest -m unit` refuses Qt);
- `qt`: uses a Qt fixture (`qtbot`, `qapp`, ...) or its module imports Qt when loaded;
- `server`: needs the reference server as a child process;
- `realparts`: needs PostgreSQL, S3 (SeaweedFS) or a real browser;
- `slow`: marked `@pytest.mark.slow` by hand (crash/kill loops).

A test has exactly one tier, the first that applies from the bottom of that list up, so
`-m "unit or qt"` (the fast loop, `dev.py test --fast`) is exactly the quick tests. A tier
mark written on a test by hand wins (for what no rule can see, e.g. a test that starts a
server from its body through a helper this file does not know).

Whether a module imports Qt when loaded is read from the source, not by importing it: the
imports a module runs at load time (not those inside functions or under
`if TYPE_CHECKING:`), followed through kycdesk's and the tests' own modules.
"""

from __future__ import annotations

import ast
import functools
import inspect
import sys
import textwrap
from collections.abc import Iterable
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OWN_PACKAGES = ("kycdesk", "kycdesk_server", "tests")

TIERS = ("unit", "qt", "server", "realparts", "slow")  # described in pyproject.toml

QT_PACKAGES = frozenset({"PySide6", "shiboken6", "pytestqt"})
QT_FIXTURES = frozenset({"qtbot", "qapp", "qapp_args", "qapp_cls", "qtmodeltester", "qtlog"})
# By name, or by the type a fixture is annotated to return (so a new fixture of the same
# kind, wherever it is defined, lands in the same tier).
SERVER_FIXTURES = frozenset({"server", "office_server"})
SERVER_TYPES = ("ServerHandle", "OfficeServer")
REAL_PART_FIXTURES = frozenset({"postgres", "s3", "browser", "chromium", "webdriver"})
REAL_PART_TYPES = ("Postgres", "S3Server", "Browser", "WebDriver", "Chromium")
# Parameters of the contract suite's `server` fixture (tests/sync_support.BACKENDS) that
# need PostgreSQL (and S3).
REAL_PART_BACKENDS = frozenset({"postgres", "production"})
# A module that calls these itself (not through a fixture) starts a server process.
SERVER_STARTERS = ("start_server",)


def tier_of(item: Any) -> str:
    """The one tier of a collected pytest item."""
    explicit = [name for name in TIERS if item.get_closest_marker(name) is not None]
    if explicit:
        return explicit[-1]
    fixtures = set(item.fixturenames)
    returns = _fixture_return_types(item)
    params = getattr(getattr(item, "callspec", None), "params", {})
    if (fixtures & REAL_PART_FIXTURES or _mentions(returns, REAL_PART_TYPES)
            or any(isinstance(value, str) and value in REAL_PART_BACKENDS
                   for value in params.values())):
        return "realparts"
    module = getattr(item, "module", None)
    if (fixtures & SERVER_FIXTURES or _mentions(returns, SERVER_TYPES)
            or any(hasattr(module, name) for name in SERVER_STARTERS)):
        return "server"
    if (fixtures & QT_FIXTURES or (module is not None and imports_qt(module.__name__))
            or _body_imports_qt(getattr(item, "function", None))):
        return "qt"
    return "unit"


def _body_imports_qt(function: object) -> bool:
    """A test that imports Qt (or what loads it) inside its own body."""
    try:
        source = textwrap.dedent(inspect.getsource(function))  # type: ignore[arg-type]
    except (TypeError, OSError):
        return False
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.add(node.module)
    return any(name.partition(".")[0] in QT_PACKAGES or imports_qt(name)
               for name in imported)


def _fixture_return_types(item: Any) -> list[str]:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return []
    types = []
    for definitions in info.name2fixturedefs.values():
        for definition in definitions:
            annotation = getattr(definition.func, "__annotations__", {}).get("return")
            types.append(str(annotation))
    return types


def _mentions(annotations: Iterable[str], names: tuple[str, ...]) -> bool:
    return any(name in annotation for annotation in annotations for name in names)


# -- which modules import Qt when they are loaded --------------------------------------
def _source_of(module: str) -> Path | None:
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _load_time_imports(module: str) -> set[str]:
    """Modules `module` imports when it is loaded (function bodies and TYPE_CHECKING
    blocks excluded), with their parent packages (importing a.b.c runs a and a.b)."""
    source = _source_of(module)
    if source is None:
        return set()
    tree = ast.parse(source.read_text(encoding="utf-8"))
    package = module if source.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(nodes: Iterable[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    parent = ".".join(parts[:len(parts) - node.level + 1])
                    base = f"{parent}.{base}" if base else parent
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
            elif isinstance(node, ast.If | ast.Try | ast.With | ast.ClassDef):
                for field in ("body", "orelse", "finalbody", "handlers"):
                    for child in getattr(node, field, []):
                        visit(child.body if isinstance(child, ast.ExceptHandler) else [child])

    visit(tree.body)
    with_parents = set(found)
    for name in found:
        parts = name.split(".")
        with_parents.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return with_parents


@functools.cache
def imports_qt(module: str) -> bool:
    """True when loading `module` loads Qt (PySide6)."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for imported in _load_time_imports(name):
            top = imported.partition(".")[0]
            if top in QT_PACKAGES:
                return True
            if top in OWN_PACKAGES and imported not in seen:
                todo.append(imported)
    return False


def module_name_of(path: Path) -> str | None:
    try:
        relative = path.resolve().relative_to(REPO)
    except ValueError:
        return None
    return ".".join(relative.with_suffix("").parts)


# -- the unit tier's guard -----------------------------------------------------------
class QtRefused(MetaPathFinder):
    """Installed for `pytest -m unit`: importing Qt is an error there, so a unit test
    that loads Qt (even lazily, inside a function) fails loudly instead of quietly
    needing a display. Mark such a test `qt`."""

    def find_spec(self, fullname: str, path: object = None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if fullname.partition(".")[0] in QT_PACKAGES:
            raise ImportError(f"{fullname}: the unit tier runs without Qt (pytest -m unit); "
                              "mark this test `qt` or keep Qt out of what it imports")
        return None


def qt_refused() -> bool:
    return any(isinstance(finder, QtRefused) for finder in sys.meta_path)


def refuse_qt() -> None:
    loaded = sorted(name for name in sys.modules if name.partition(".")[0] == "PySide6")
    if loaded:
        raise RuntimeError(f"Qt was loaded before the unit tier started: {loaded[:3]}")
    sys.meta_path.insert(0, QtRefused())
