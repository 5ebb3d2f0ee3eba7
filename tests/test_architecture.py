"""Guards for the architecture and for known toolkit bugs."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, QTimer

from kycdesk.paths import DataPaths
from kycdesk.persistence.commands import AddImage, AppendEdit, CreateCase
from kycdesk.persistence.store import LocalStore
from tests.vaults import make_vault


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_lower_layers_never_import_qt_widgets() -> None:
    """persistence, sync and models stay widget-free (views own widgets). Checked in the
    source, not sys.modules: PySide6.QtSql itself loads QtWidgets for its delegates."""
    root = Path(__file__).resolve().parents[1] / "kycdesk"
    offenders = [str(path.relative_to(root))
                 for package in ("persistence", "sync", "models")
                 for path in (root / package).rglob("*.py")
                 if any(m.startswith(("PySide6.QtWidgets", "kycdesk.views"))
                        for m in _imported_modules(path))]
    assert offenders == []


def test_every_package_the_app_imports_is_a_declared_dependency() -> None:
    """A package reached only through another one's dependencies (httpcore through httpx)
    can vanish or change major version under us: the app declares what it imports."""
    import tomllib
    from importlib.metadata import packages_distributions

    repo = Path(__file__).resolve().parents[1]
    project = tomllib.loads((repo / "pyproject.toml").read_text(encoding="utf-8"))
    def normal(name: str) -> str:  # PEP 503: PySide6_Essentials == pyside6-essentials
        return re.sub(r"[-_.]+", "-", name).lower()

    # The app's own optional feature (reading MRZ photos: kycdesk[documents]) counts as
    # declared: its modules import it lazily and say which extra to install without it.
    specs = [*project["project"]["dependencies"],
             *project["project"]["optional-dependencies"]["documents"]]
    declared = {normal(re.split(r"[<>=!~\[ ;]", spec, maxsplit=1)[0]) for spec in specs}
    distributions = packages_distributions()
    undeclared = {}
    for path in (repo / "kycdesk").rglob("*.py"):
        for module in _imported_modules(path):
            top = module.partition(".")[0]
            if top in sys.stdlib_module_names or top in ("kycdesk", "__future__"):
                continue
            names = {normal(name) for name in distributions.get(top, [top])}
            if not names & declared:
                undeclared[top] = str(path.relative_to(repo))
    assert undeclared == {}


@pytest.mark.skipif(sys.version_info >= (3, 12),
                    reason="None is immortal from 3.12 (PEP 683): its count cannot drop")
def test_pyside_keeps_none_alive(qapp: object, paths: DataPaths, jpeg: Path) -> None:
    """PySide6 6.12.0 on CPython 3.11 dropped a reference to None on every void call,
    aborting the process after a few thousand calls. A store session makes thousands."""
    before = sys.getrefcount(None)
    timer, obj = QTimer(), QObject()
    for _ in range(500):
        timer.stop()
        obj.setObjectName("x")
    with LocalStore(paths, vault=make_vault()) as store:
        case_id = store.run(CreateCase())
        for i in range(50):
            store.run(AppendEdit(case_id, "f", None if i % 2 else i))
        store.run(AddImage(case_id, jpeg))
        store.load_case(case_id)
    assert sys.getrefcount(None) >= before - 50  # unrelated churn, never ~1,000s


def test_sync_engine_and_core_load_no_qt_in_a_fresh_interpreter() -> None:
    """The engine is plain logic: importing it (and the core, the protocol, the client)
    must not load any PySide6 module — checked in a new process, where nothing else
    could have imported Qt first."""
    code = ("import sys, kycdesk.sync.engine, kycdesk.core.states, kycdesk.core.validation, "
            "kycdesk.core.protocol\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('PySide6', 'shiboken6')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_window_loads_no_network_stack_forms_or_editor_before_it_shows() -> None:
    """Cold start: what the case list needs, nothing more. The network stack (httpx and,
    through its command line, rich/click/pygments), pydantic and the form models, the
    editor and the sync engine load after the window is up — checked in a new process."""
    heavy = ("httpx", "pydantic", "rich", "click", "pygments", "kycdesk.sync.worker",
             "kycdesk.sync.engine", "kycdesk.core.form_schema", "kycdesk.core.protocol",
             "kycdesk.views.case_editor", "kycdesk.models.form_registry")
    code = ("import sys, kycdesk.cli, kycdesk.app\n"
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout


def test_cycles_holding_qt_objects_are_freed_in_the_gui_thread(qapp: object) -> None:
    """A cycle that holds a QObject must not be collected by a worker thread (the object
    would be destroyed there: the writer-thread segfault this guard fixed)."""
    import gc
    import threading

    from kycdesk.gc_guard import GuiThreadCollector

    gc.enable()  # Python's default; the collector is what must turn it off
    collector = GuiThreadCollector(interval_ms=3_600_000)
    try:
        freed_in: list[str] = []

        class Holder:
            pass

        def make_cycle() -> None:
            holder = Holder()
            obj = QObject()
            obj.destroyed.connect(lambda: freed_in.append(threading.current_thread().name))
            holder.obj, holder.me = obj, holder  # type: ignore[attr-defined]

        make_cycle()

        def churn() -> None:  # allocations that would trigger a collection here
            junk: list[list[list[object]]] = []
            for _ in range(200_000):
                junk.append([[]])
            junk.clear()

        worker = threading.Thread(target=churn, name="worker")
        worker.start()
        worker.join()
        assert freed_in == []  # not in the worker
        collector.collect()
        gc.collect()
        assert freed_in == [threading.current_thread().name]
    finally:
        collector.stop()
        gc.disable()  # the suite's fixture keeps collection in the main thread


def test_strict_mypy_checks_what_a_caller_does_with_a_store_result(tmp_path: Path) -> None:
    """Results are typed by their command: a callback written for a save's revision
    (an int) is refused for a new case's id (a str) — before anything runs."""
    caller = tmp_path / "caller.py"
    caller.write_text(
        "from kycdesk.core.results import Result\n"
        "from kycdesk.persistence.client import StoreClient\n"
        "from kycdesk.persistence.commands import CreateCase, SaveForm\n\n\n"
        "def use(client: StoreClient) -> None:\n"
        "    def revision(result: Result[int]) -> None:\n"
        "        print(result.value + 1)\n\n"
        "    client.submit(SaveForm('c', {}), revision)\n"
        "    client.submit(CreateCase(), revision)\n", encoding="utf-8")
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"),
         str(caller)], capture_output=True, text=True, timeout=300,
        cwd=Path(__file__).resolve().parents[1], check=False)
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1 and "caller.py:11:" in errors[0], out.stdout
    assert "Result[str]" in errors[0]
