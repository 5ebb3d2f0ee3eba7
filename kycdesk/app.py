"""Wires the app: data-dir lock, writer thread, read connection, form definitions,
models, the main window, and the save triggers that come from outside an editor."""

from __future__ import annotations

import gc
import importlib
import logging
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QApplication, QWidget

from kycdesk import APP_NAME, __version__, background
from kycdesk.background import Priority, Task, run_task
from kycdesk.core.errors import StoreError
from kycdesk.core.records import CaseRecord, TwoWayState
from kycdesk.core.results import Result
from kycdesk.core.states import CaseChange, CaseStatus, CaseView, Change, needs_person
from kycdesk.exit_codes import ExitCode
from kycdesk.gc_guard import GuiThreadCollector
from kycdesk.models.case_list_model import CaseListModel
from kycdesk.models.thumbnails import ThumbnailLoader
from kycdesk.paths import DataPaths
from kycdesk.persistence.background_check import (
    CheckProgress,
    check_due,
    check_lane,
    start_full_check,
)
from kycdesk.persistence.commands import CreateCase, NamePhotos, PurgeSynced, SetActor
from kycdesk.persistence.diskspace import space_report
from kycdesk.persistence.lock import DataDirLock
from kycdesk.persistence.place_backfill import start_place_backfill
from kycdesk.persistence.reader import ReadStore
from kycdesk.persistence.recovery import RecoveryReport
from kycdesk.persistence.writer import WriterThread
from kycdesk.security.vault import Vault
from kycdesk.settings import (
    CA_BUNDLE,
    EMPLOYEE_ID,
    PARALLEL_UPLOADS,
    RETENTION_DAYS,
    SERVER_URL,
    STALL_SECONDS,
    VERIFIER_NAME,
    Settings,
)
from kycdesk.views.camera import CameraSource, default_camera
from kycdesk.views.confirm import Confirm, ask_confirmation
from kycdesk.views.first_paint import FirstPaint
from kycdesk.views.main_window import MainWindow
from kycdesk.views.style import app_stylesheet

if TYPE_CHECKING:  # loaded after the window is up (see KycDeskApp._after_window)
    from kycdesk.core.form_schema import FormDefinition
    from kycdesk.core.protocol import EnrolledDevice, Health
    from kycdesk.gate import Gate
    from kycdesk.models.form_registry import FormRegistry
    from kycdesk.paths import TabletPaths
    from kycdesk.sync.credentials import TokenLookup, VerifierCredential
    from kycdesk.sync.office import OfficeIdentity
    from kycdesk.sync.worker import SyncController
    from kycdesk.update_watch import UpdateWatch
    from kycdesk.verifiers.migration import MigrationProgress
    from kycdesk.views.case_editor import CaseEditor, EditorPlace
    from kycdesk.views.settings_dialog import SettingsDialog

log = logging.getLogger(__name__)


RETENTION_SWEEP_MS = 6 * 3600 * 1000
BACKGROUND_CHECK_DELAY_MS = 10_000  # let the verifier start working first
# The deferred startup waits for the cases' first paint, or this long if none comes.
AFTER_WINDOW_DEADLINE_MS = 500


def new_reference() -> str:
    return f"KYC-{datetime.now():%Y%m%d}-{secrets.token_hex(3).upper()}"


@dataclass(frozen=True)
class DeskPlace:
    """Where the verifier was when the app locked: the open cases (tab order), the one
    in front, and each one's step, field and scroll. Ids and positions only — the answers
    are in the store (autosaved), which is closed while locked."""

    cases: tuple[str, ...] = ()
    current: str | None = None
    editors: dict[str, EditorPlace] = field(default_factory=dict)
    list_scroll: int = 0


class KycDeskApp(QObject):
    """Owns the long-lived parts; GUI-thread object, talks to the writer by signals."""

    fatalError = Signal(str)   # the store cannot be used: show it and quit
    caseOpened = Signal(str)
    storeReady = Signal()      # the store is open and the cases listed
    settingsChanged = Signal()  # Settings saved (the idle time, kiosk mode may differ)
    # The office revoked this tablet, with a proof its office secret checks (emitted from
    # the sync thread; the gate closes this desk, then runs `revocation_wipe`).
    tabletRevoked = Signal(bool)  # True: the whole tablet, False: this verifier's store
    # Startup has finished: form definitions loaded, sync started with its credential,
    # network watched (`startup_finished_at`; `kycdesk --startup-check` waits for it).
    startupFinished = Signal()

    def __init__(self, paths: DataPaths, *, vault: Vault,
                 registry: FormRegistry | None = None,
                 debounce_ms: int = 2000,
                 camera_factory: Callable[[], CameraSource] = default_camera,
                 confirm: Confirm = ask_confirmation,
                 sync_options: dict[str, Any] | None = None,
                 actor: str | None = None) -> None:
        """`vault`: the signed-in verifier's keys, which open their store; `actor`: their
        name, for the field history (else the profile name in Settings)."""
        super().__init__()
        self.paths = paths
        self.vault = vault  # the signed-in verifier's keys: every store connection's
        self.actor = actor
        self.lock = DataDirLock(paths.lock_file)
        self.registry = registry
        self.debounce_ms = debounce_ms
        # The camera is looked for when the first case opens (not at start: QtMultimedia
        # is slow to load and often absent); tests inject a fake at this same seam.
        self._camera_factory = camera_factory
        self._camera: CameraSource | None = None
        self.confirm = confirm
        self.writer_thread: WriterThread | None = None
        self.reader: ReadStore | None = None
        self._inbox_before: dict[CaseView, int] | None = None  # view counts as a run began
        self.loader = ThumbnailLoader(paths, vault)
        self.model = CaseListModel()
        self.window = MainWindow(self.model)
        self.window.newCaseRequested.connect(self.new_case)
        self.window.caseOpenRequested.connect(self.open_case)
        self.window.minimised.connect(self.flush_all)
        self.window.aboutRequested.connect(self.show_about)
        self.window.licencesRequested.connect(self.show_licences)
        self.startup_error: str | None = None
        # The deferred part of startup (`_after_window`): its background load, what it
        # loaded (read by `_forms` if a case is opened before it is back), and when all
        # of startup had finished (perf_counter; None: not yet).
        self._startup_load: Task[FormRegistry | None, object] | None = None
        self._loaded_forms: list[FormRegistry] = []
        self._new_case_waiting = False
        self._first_paint: FirstPaint | None = None
        self._startup_begun = False
        self.startup_finished_at: float | None = None
        self.settings = Settings()
        self._sync_options = sync_options or {}
        self.sync: SyncController | None = None
        self.updates: UpdateWatch | None = None  # under the update launcher only
        # The signed-in verifier's sealed sync token (set with the session at sign-in;
        # None: only --token/KYCDESK_TOKEN or the dialog's token for this run).
        self.kept_credential: VerifierCredential | None = None
        # What a proven revocation wipes (the verifiers' registry's `wipe_tablet`), run by
        # the gate once this desk is closed.
        self.revocation_wipe: Callable[[bool], None] | None = None
        # The token the sync was last configured with (read off the GUI thread from the
        # verifier's sealed record): what the Settings dialog shows, without a disk read
        # (None: not read yet — the dialog then fills it in when the read is back).
        self._known_token: str | None = None
        self._hears_application = False  # connected to the application's own signals
        self.window.sync_panel.settingsRequested.connect(self.open_settings)
        self._network: Any = None
        self._check_lane = check_lane()
        self._full_check: Task[RecoveryReport | None, CheckProgress] | None = None
        self._retention_timer = QTimer(self)
        self._retention_timer.setInterval(RETENTION_SWEEP_MS)
        self._retention_timer.timeout.connect(self.sweep_retention)
        # A timer of our own (not QTimer.singleShot), so shutdown can stop it.
        self._full_check_timer = QTimer(self)
        self._full_check_timer.setSingleShot(True)
        self._full_check_timer.setInterval(BACKGROUND_CHECK_DELAY_MS)
        self._full_check_timer.timeout.connect(self._start_full_check)
        # Case changes come in bursts (a pull applies a page of them in one transaction,
        # announced one by one): the list is read again once per burst, not per change —
        # fifty reads of the case list in a row were a 1.4 s stall of the GUI thread.
        self._list_refresh = QTimer(self)
        self._list_refresh.setSingleShot(True)
        self._list_refresh.setInterval(0)
        self._list_refresh.timeout.connect(self.model.refresh)

    @Slot()
    def show_about(self, tab: int = 0) -> None:
        """Help → About. The versions and the licence notices are read off the GUI thread
        (forms, every package's metadata from source, a ~1 MB file in the bundle)."""
        dialog, fresh = self.window.about_dialog(tab)
        if not fresh:
            return
        from kycdesk.about import about_lines  # `platform` is slow to import: not at start
        from kycdesk.notices import notices_text

        paths = self.paths
        run_task(lambda _control: about_lines(paths), dialog.show_details, name="about")
        run_task(lambda _control: notices_text(), dialog.show_licences, name="licences",
                 on_error=lambda exc: dialog.show_licence_error(str(exc)))

    @Slot()
    def show_licences(self) -> None:
        from kycdesk.views.about_dialog import AboutDialog

        self.show_about(AboutDialog.LICENCES_TAB)

    # -- start ------------------------------------------------------------------------
    def start(self) -> bool:
        """Take the data-dir lock, start the writer; False (with `startup_error`) if the
        app cannot work. What the case list does not need (form definitions, the sync
        stack, the editor) loads after the window is up (`_after_window`)."""
        try:
            self.paths.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.lock.acquire()
        except (StoreError, OSError) as exc:
            self.startup_error = str(exc)
            return False
        root = self.paths.root  # statvfs may hang on a failing disk: not in the GUI thread
        run_task(lambda _control: space_report(root).message(),
                 self.window.show_space_warning, name="disk space")
        self.writer_thread = WriterThread(self.paths, vault=self.vault)
        client = self.writer_thread.client
        client.opened.connect(self._store_opened)
        client.openFailed.connect(self._store_failed)
        client.caseChanged.connect(self._case_changed)
        client.storageStateChanged.connect(self.window.show_storage_state)
        client.backlogChanged.connect(self.window.show_backlog)
        panel = self.window.sync_panel
        panel.syncNowRequested.connect(self.sync_now)
        panel.cancelRequested.connect(self.cancel_sync)
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            app.applicationStateChanged.connect(self._application_state)
            app.commitDataRequest.connect(self._commit_data)
            self._hears_application = True
        background.set_error_handler(self._background_failed)
        self.writer_thread.start()
        return True

    def _background_failed(self, name: str, error: Exception) -> None:
        """The one handler of background errors nobody expected (a bug): the traceback
        to the log, one line to the verifier; the app keeps working."""
        log.error("background task %s failed", name, exc_info=error)
        self.window.show_status("Something went wrong in the background; "
                                "details are in the log.")

    @Slot(object)
    def _store_opened(self, report: RecoveryReport | None) -> None:
        try:
            self.reader = ReadStore(self.paths, vault=self.vault)
        except StoreError as exc:
            self._store_failed(str(exc))
            return
        self.model.set_reader(self.reader)
        self._tell_actor()
        if self.window.isVisible():  # once the cases are on the screen
            page = self.window.list_page
            self._first_paint = FirstPaint((page.table.viewport(), page.empty_state),
                                           self._after_window,
                                           deadline_ms=AFTER_WINDOW_DEADLINE_MS, parent=self)
        else:  # not shown (tests, a desk built for a check): nothing to wait for
            QTimer.singleShot(0, self._after_window)
        self.storeReady.emit()
        if report is not None and (report.repairs or report.has_problems):
            self.window.show_status(
                f"Recovered after an unexpected stop: {report.repairs} repair(s)"
                + ("; some photos need attention (run 'kycdesk doctor')"
                   if report.has_problems else ""))

    @Slot()
    def _after_window(self) -> None:
        """The cases are listed: now the rest of startup, without freezing the window a
        verifier may already be tapping. The form definitions (pydantic, the definitions'
        parsing), the sync stack (httpx and the engine) and Qt's network module are
        loaded on a background lane; what must live in the GUI thread (the sync
        controller, the network watch) is made when they are back, which is cheap then.
        `startupFinished` once the sync has its credential too (read off this thread)."""
        if self.writer_thread is None or self._startup_begun:
            return
        self._startup_begun = True
        if self._first_paint is not None:  # begun early (a tap on New case)
            self._first_paint.cancel()
            self._first_paint = None
        if self.registry is not None:  # given (tests): only the sync stack to load
            self._startup_load = run_task(lambda _control: _import_sync_stack(),
                                          lambda _none: self._startup_loaded(self.registry),
                                          on_error=self._startup_load_failed,
                                          name="startup", priority=Priority.HIGH)
            return
        paths, vault, loaded = self.paths, self.vault, self._loaded_forms

        def load(_control: object) -> FormRegistry:
            loaded.append(load_forms(paths, vault))
            _import_sync_stack()
            return loaded[-1]

        self._startup_load = run_task(load, self._startup_loaded,
                                      on_error=self._startup_load_failed,
                                      name="startup", priority=Priority.HIGH)

    def _startup_loaded(self, registry: FormRegistry | None) -> None:
        self._startup_load = None
        if self.writer_thread is None:  # closed meanwhile (a lock, a quit)
            return
        if self.registry is None:
            self.registry = registry
        self._start_sync()
        if self._new_case_waiting:
            self._new_case_waiting = False
            self.new_case()

    def _startup_load_failed(self, error: Exception) -> None:
        from kycdesk.models.form_registry import FormDefinitionError

        self._startup_load = None
        if isinstance(error, FormDefinitionError):
            self._store_failed(f"The form definitions are damaged: {error}")
            return
        # A bug (a module missing from a bundle): the cases can still be captured, the
        # sync cannot start. Said once, and startup goes on without it.
        self._background_failed("startup", error)
        self._finish_startup()

    def _finish_startup(self) -> None:
        """The verifier's part of startup is done; the sweeps start now, so they do not
        compete for the CPU with it (a tablet has two cores, the GUI thread needs one)."""
        if self.startup_finished_at is not None or self.writer_thread is None:
            return
        self.startup_finished_at = time.perf_counter()
        self._retention_timer.start()
        self.sweep_retention()
        self._full_check_timer.start()
        self._start_updates()
        client = self.writer_thread.client
        start_place_backfill(self.paths, lambda words: client.submit(
            NamePhotos(None, tuple(words))), vault=self.vault)
        self.startupFinished.emit()

    def _start_updates(self) -> None:
        """Under the update launcher: check on a schedule and from the verifier's menu;
        download, verify, stage and self-test in the background (kycdesk/update_watch.py).
        A kiosk restarts into a staged version at its quiet hour, never during a sync or
        with unsaved edits."""
        from kycdesk.update.pointer import running_install

        here = running_install()
        if here is None or self.updates is not None:
            return
        from kycdesk.settings import CA_BUNDLE, KIOSK_MODE, UPDATE_QUIET_HOUR
        from kycdesk.update_watch import UpdateWatch

        hour = self.settings.get(UPDATE_QUIET_HOUR)
        self.updates = UpdateWatch(here[0], busy=self._busy_for_update,
                                   quiet_hour=hour if self.settings.get(KIOSK_MODE)
                                   and hour >= 0 else None,
                                   ca_bundle=self.settings.get(CA_BUNDLE) or None, parent=self)
        self.updates.ready.connect(lambda version: self.window.show_status(
            f"kycdesk {version} is ready: it starts the next time kycdesk starts."))
        self.updates.failed.connect(self.window.show_status)
        self.updates.restartNow.connect(self._restart_into_update)
        action = self.window.check_updates_action
        action.setVisible(True)
        action.triggered.connect(self.updates.check_now)
        self.updates.start()

    def _busy_for_update(self) -> bool:
        """A sync runs, or an open case has edits not yet in the store."""
        from kycdesk.sync.status import SyncState

        if self.sync is not None and self.window.sync_panel.state == SyncState.SYNCING:
            return True
        return any(editor.autosave.pending for editor in self.window.editors())

    def _restart_into_update(self) -> None:
        from kycdesk.update_watch import restart_through_launcher

        if restart_through_launcher():
            QApplication.quit()

    def _forms(self) -> FormRegistry | None:
        """The form definitions. Startup loads them in the background; a case opened
        before they are back waits for that load (already under way: shorter than a
        second load here) — only in the first moments after sign-in."""
        if self.registry is None:
            from kycdesk.models.form_registry import FormDefinitionError

            loading = self._startup_load
            try:
                if loading is not None and loading.wait() and self._loaded_forms:
                    self.registry = self._loaded_forms[-1]
                else:  # not started (tests), or the load failed: it says why here
                    self.registry = load_forms(self.paths, self.vault, self.reader)
            except FormDefinitionError as exc:
                self._store_failed(f"The form definitions are damaged: {exc}")
        return self.registry

    @Slot()
    def _start_full_check(self) -> None:
        """The full check (every row against its file) after the window is up, in the
        background, at most daily; startup itself only repaired what was in flight."""
        if self.writer_thread is None or self._full_check is not None \
                or not check_due(self.paths):
            return
        self._full_check = start_full_check(
            self.paths, vault=self.vault, on_progress=lambda p: self.window.show_check_progress(*p),
            on_checked=self._full_check_done, lane=self._check_lane)

    def _full_check_done(self, report: RecoveryReport) -> None:
        self.window.show_check_result(report.has_problems or bool(report.leftovers))

    @Slot(str)
    def _store_failed(self, message: str) -> None:
        self.startup_error = message
        self.fatalError.emit(message)

    # -- cases ------------------------------------------------------------------------
    @Slot()
    def new_case(self) -> None:
        if self.registry is None and self.startup_finished_at is None \
                and self.reader is not None:
            # Made as soon as startup has loaded the definitions (begun now if the
            # tap came before the cases were even painted).
            self._new_case_waiting = True
            self._after_window()
            return
        from kycdesk.models.form_registry import DEFAULT_FORM_ID

        registry = self._forms()
        if self.writer_thread is None or registry is None or self.reader is None:
            return
        definition = registry.latest(DEFAULT_FORM_ID)
        self.writer_thread.client.submit(
            CreateCase(reference_number=new_reference(), form_id=definition.form_id,
                       form_version=definition.version),
            self._case_created)

    def _case_created(self, result: Result[str]) -> None:
        if result.ok:
            self.open_case(result.value)
        else:
            self.window.show_status(f"The case could not be created: {result.error}")

    def _definition_for(self, case: CaseRecord) -> tuple[CaseRecord, FormDefinition,
                                                         str | None, list[str]]:
        """The definition to show a case with; drafts of older versions are migrated."""
        from kycdesk.models.form_registry import DEFAULT_FORM_ID, FormDefinitionError

        registry = self._forms()
        if registry is None:
            raise FormDefinitionError("the form definitions could not be loaded")
        form_id = case.form_id or DEFAULT_FORM_ID
        latest = registry.latest(form_id)
        version = case.form_version or latest.version
        installed = version in registry.versions(form_id)
        if version != latest.version and installed and case.status == CaseStatus.DRAFT:
            migrated = registry.migrate(form_id, case.form, version, latest.version)
            note = (f"This draft was started with version {version} of the form and has "
                    f"been moved to version {latest.version}; every answer was kept.")
            return (replace(case, form=migrated.values), latest, note,
                    migrated.kept_unknown)
        definition = registry.get(form_id, version) if installed else latest
        known = {f.key for f in definition.fields()}
        return case, definition, None, sorted(k for k in case.form if k not in known)

    def retention_days(self) -> float:
        return self.settings.get(RETENTION_DAYS)

    @Slot()
    def sweep_retention(self) -> Task[list[str], object] | None:
        """Synced cases past the retention period lose their data on this device (never
        before the server's receipt); the list keeps their stub. The cases due are
        looked for on a background lane with a read connection of its own (it reads
        every synced case's receipt: a GUI-thread stall of 0.1-0.5 s at 100,000 cases),
        then purged by the writer."""
        if self.writer_thread is None:
            return None
        paths, vault, days = self.paths, self.vault, self.retention_days()

        def due(_control: object) -> list[str]:
            store = ReadStore(paths, vault=vault, role="retention")
            try:
                return store.purge_due(days)
            finally:
                store.close()

        def purge(case_ids: list[str]) -> None:
            if self.writer_thread is not None:  # not closed meanwhile
                for case_id in case_ids:
                    self.writer_thread.client.submit(PurgeSynced(case_id))

        return run_task(due, purge, name="retention sweep", priority=Priority.LOW)

    def _tell_actor(self) -> None:
        """Who changes answers here, for the field history and a conflict's "changed by":
        the verifier's name from Settings, else the device's (no sign-in on the device)."""
        if self.writer_thread is not None:  # empty: the store names the device
            self.writer_thread.client.submit(
                SetActor(self.actor or self.settings.get(VERIFIER_NAME)))

    def profile(self) -> dict[str, str]:
        # The keys the form definitions name in their `profile:` defaults.
        return {"name": self.settings.get(VERIFIER_NAME),
                "employee_id": self.settings.get(EMPLOYEE_ID)}

    @Slot(str)
    def open_case(self, case_id: str) -> CaseEditor | None:
        # The editor and its models load with the first case opened, not at start.
        from kycdesk.models.case_session import CaseSession
        from kycdesk.models.form_registry import FormDefinitionError
        from kycdesk.views.case_editor import CaseEditor

        existing = self.window.editor_for(case_id)
        if existing is not None:
            self.window.focus_editor(existing)
            return existing
        if self.reader is None or self.writer_thread is None:
            return None
        try:
            case = self.reader.load_case(case_id)
            if case.purged_at:
                self.window.show_status(
                    f"{case.reference_number or 'This case'} was sent and its data removed "
                    "from this device after the retention period; only its receipt remains.")
                return None
            images = self.reader.list_images(case_id)
            two_way = self.reader.read_two_way(case_id)
            retakes = self.reader.retake_notes(case_id)
            case, definition, note, kept = self._definition_for(case)
        except (StoreError, FormDefinitionError) as exc:
            self.window.show_status(f"The case could not be opened: {exc}")
            return None
        session = CaseSession(self.writer_thread.client, case, definition, images, self.loader,
                              debounce_ms=self.debounce_ms, migrated=note is not None,
                              profile=self.profile(), two_way=two_way,
                              read_two_way=self._two_way_reader(case_id))
        editor = CaseEditor(session, camera=self.camera(),
                            captures_dir=self.paths.captures_dir, confirm=self.confirm,
                            migration_note=note, kept_keys=kept)
        editor.submitted.connect(lambda _id: self.model.refresh())
        # Once the photo panel listens: the ⚠ retake suggestions recorded on the photos.
        session.restore_quality(retakes)
        self.window.add_editor(editor)
        self.caseOpened.emit(case_id)
        return editor

    def _two_way_reader(self, case_id: str) -> Callable[[], TwoWayState]:
        reader = self.reader
        assert reader is not None
        return lambda: reader.read_two_way(case_id)

    # -- where the verifier was (lock, unlock) ------------------------------------------------
    def place(self) -> DeskPlace:
        editors = self.window.editors()
        current = self.window.tabs.currentWidget()
        return DeskPlace(
            cases=tuple(e.case_id for e in editors),
            current=next((e.case_id for e in editors if e is current), None),
            editors={e.case_id: e.place() for e in editors},
            list_scroll=self.window.table.verticalScrollBar().value())

    def return_to(self, place: DeskPlace) -> None:
        """Reopen the cases of `place` and put each one back at its step, field and
        scroll; the case that was in front comes to the front. Call once the store is
        ready (`storeReady`)."""
        self.window.table.verticalScrollBar().setValue(place.list_scroll)
        front: CaseEditor | None = None
        for case_id in place.cases:
            editor = self.open_case(case_id)
            if editor is None:  # gone meanwhile (purged after retention, discarded)
                continue
            if case_id == place.current:
                front = editor
        if front is None:
            self.window.show_list()
            return
        self.window.focus_editor(front)
        for editor in self.window.editors():  # the front one last: it keeps the focus
            if editor is not front and editor.case_id in place.editors:
                editor.return_to(place.editors[editor.case_id])
        if front.case_id in place.editors:
            front.return_to(place.editors[front.case_id])

    # -- sync ---------------------------------------------------------------------------
    def camera(self) -> CameraSource:
        if self._camera is None:
            self._camera = self._camera_factory()
        return self._camera

    def sync_now(self) -> SettingsDialog | None:
        """"Sync now": every case due, including those waiting to retry (their wait is
        skipped). Sync not set up: it says so and opens Settings (it did nothing)."""
        if self.sync is None and self.settings.get(SERVER_URL):
            self.window.show_status("Sync is still starting; try again in a moment.")
            return None
        if self.sync is None or not self.sync.configured:
            self.window.show_status(SYNC_NOT_SET_UP)
            return self.open_settings()
        self.sync.request_sync(now=True)
        return None

    def cancel_sync(self) -> None:
        if self.sync is not None:
            self.sync.cancel()

    def _start_sync(self) -> None:
        """The sync worker opens its own read connection: start it once the writer has
        migrated the database (and the window is up: the network stack was imported in
        the background by `_after_window`); startup has finished once the sync has its
        credential (or has none to read)."""
        from kycdesk.sync.worker import SyncController

        assert self.writer_thread is not None
        self.sync = SyncController(self.paths, self.writer_thread.client.writer,
                                   **{**sync_tuning(self.settings), **self._sync_options,
                                      **self._office_hooks()})
        panel = self.window.sync_panel
        self.sync.stateChanged.connect(panel.show_state)
        self.sync.progress.connect(panel.show_progress)
        self.sync.runFinished.connect(panel.show_result)
        self.sync.stateChanged.connect(self._note_inbox_before_run)
        self.sync.runFinished.connect(self._tell_inbox_news)
        self.sync.start()
        self._watch_network()
        url = self.settings.get(SERVER_URL)
        if url:
            self._configure_sync(url, self.settings.get(CA_BUNDLE) or "", now=False,
                                 then=self._finish_startup)
        else:
            self._finish_startup()

    def _office_hooks(self) -> dict[str, Any]:
        """The office's side of the sync for a signed-in verifier (issue 18): the lease and
        the wrong-PIN releases go into the registry, a proven revocation to the gate."""
        kept = self.kept_credential
        if kept is None:  # no registry behind this desk (tests that build it directly)
            return {}
        from kycdesk.sync.tablet_hooks import hooks_for, revocation_wipe

        self.revocation_wipe = revocation_wipe(kept.registry, kept.session)
        return {"hooks": hooks_for(kept.registry, kept.session,
                                   wipe=self.tabletRevoked.emit)}

    def _configure_sync(self, url: str, ca_bundle: str, *, new_token: str = "",
                        now: bool, then: Callable[[], None] | None = None) -> None:
        """Give the sync its address, token and office identity. The token lives sealed in
        the verifier's registry record: it is read (and a new one written) on a
        background lane, never in the GUI thread. `then`: called once that is done
        (or failed)."""
        kept = self.kept_credential

        def look(_control: object) -> tuple[TokenLookup, OfficeIdentity | None]:
            from kycdesk.sync.credentials import load_token
            from kycdesk.sync.tablet_hooks import office_identity_of

            if new_token and kept is not None:
                kept.save(new_token)
            lookup = load_token(new_token or None, kept=kept)
            office = office_identity_of(kept.registry, kept.session) if kept else None
            return lookup, office

        def configured(answer: tuple[TokenLookup, OfficeIdentity | None]) -> None:
            lookup, office = answer
            self._known_token = lookup.token or ""
            if self.sync is None:  # closed meanwhile (a lock)
                return
            if lookup.token:
                self.sync.configure(url, lookup.token, ca_bundle, office)
                self.sync.request_sync(now=now)
            elif lookup.problem:
                self.window.show_status(lookup.problem)
            if then is not None:
                then()

        def failed(error: Exception) -> None:
            self.window.show_status(f"The sync's token could not be read: {error}")
            if then is not None:
                then()

        run_task(look, configured, on_error=failed, name="sync credential")

    def _watch_network(self) -> None:
        """Sync when the OS says the network is back (where Qt has a backend for it);
        the worker's periodic health probe covers the rest."""
        from PySide6.QtNetwork import QNetworkInformation

        if not QNetworkInformation.loadDefaultBackend():
            log.info("no network-information backend; relying on periodic probes")
            return
        self._network = QNetworkInformation.instance()
        if self._network is not None:
            self._network.reachabilityChanged.connect(self._reachability)

    @Slot(object)
    def _reachability(self, reachability: object) -> None:
        from PySide6.QtNetwork import QNetworkInformation

        if reachability == QNetworkInformation.Reachability.Online and self.sync is not None:
            self.sync.request_sync()

    @Slot(str, str)
    def _note_inbox_before_run(self, state: str, _detail: str) -> None:
        if state == "syncing" and self._inbox_before is None:
            self._inbox_before = self.model.view_counts()

    @Slot(object)
    def _tell_inbox_news(self, _result: object) -> None:
        """After a run: how many cases the pull brought to the office's views (in the
        status strip; no dialog interrupts the verifier)."""
        before, self._inbox_before = self._inbox_before or {}, None
        now = self.model.view_counts()
        self.window.sync_panel.show_news(*(
            max(0, now.get(view, 0) - before.get(view, 0))
            for view in (CaseView.ASSIGNED, CaseView.RETURNED)))

    @Slot(object)
    def _case_changed(self, change: CaseChange) -> None:
        """The one notification of a case created or changing status (open editors hear
        it through their CaseSession)."""
        self._list_refresh.start()  # coalesced: one read of the list per burst
        if change.status == CaseStatus.READY and self.sync is not None:
            self.sync.request_sync()  # a case became READY: send it when possible
        if change.change is Change.SYNC_FAILED:
            self.window.sync_panel.note_failure(needs_person(change.error_kind))
        if change.removed or change.purged:  # discarded, or past retention: close it
            editor = self.window.editor_for(change.case_id)
            if editor is not None:
                self.window.drop_tab(self.window.tabs.indexOf(editor))
            if change.removed:
                self.window.show_status("The draft was discarded.")

    @Slot()
    def open_settings(self) -> SettingsDialog:
        from kycdesk.views.settings_dialog import SettingsDialog

        url = self.settings.get(SERVER_URL)
        known = self._known_token
        dialog = SettingsDialog(self.settings, check_connection, self.window,
                                enrol=self.enrol, token=(known or "") if url else "")
        kept = self.kept_credential
        if url and known is None and kept is not None:
            # Not read yet (Settings opened right after sign-in): read it off the GUI
            # thread and show it unless the verifier has typed one meanwhile.
            def shown(token: str | None) -> None:
                self._known_token = token or ""
                if token and not dialog.token.text():
                    dialog.token.setText(token)

            run_task(lambda _control: kept.load(), shown, name="sync credential",
                     on_error=lambda error: self.window.show_status(
                         f"The sync's token could not be read: {error}"))
        dialog.saved.connect(self._settings_saved)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def enrol(self, url: str, code: str, ca_bundle: str | None) -> EnrolledDevice:
        """Settings → an enrolment code, for the signed-in verifier's store (a background
        task: it blocks): the server learns the tablet and the verifier; the credential,
        the office secret and the organisation key's wraps are kept in their registry
        record, as `kycdesk enrol --user` keeps them."""
        kept = self.kept_credential
        if kept is None:  # no registry behind this desk (tests that build it directly)
            return enrol_with_code(url, code, ca_bundle)
        from kycdesk.sync.client import enrol_device
        from kycdesk.sync.enrolment import default_device_name, keep_enrolment

        enrolled = enrol_device(url, code, default_device_name(), ca_bundle=ca_bundle,
                                tablet_id=kept.registry.tablet_id,
                                verifier_name=kept.session.name)
        keep_enrolment(kept.registry, kept.session, enrolled)
        return enrolled

    @Slot(str, str, str)
    def _settings_saved(self, url: str, token: str, ca_bundle: str) -> None:
        self._tell_actor()  # the verifier's name may have changed
        self.settingsChanged.emit()
        if url and token:  # kept sealed for the verifier, off the GUI thread
            self._configure_sync(url, ca_bundle, new_token=token, now=True)
            return
        self._known_token = token or None  # cleared: the sync waits for both
        if self.sync is not None:
            self.sync.configure(url, token, ca_bundle)

    # -- save triggers from outside the editors -----------------------------------------
    @Slot()
    def flush_all(self) -> None:
        self.window.flush_all()

    @Slot(Qt.ApplicationState)
    def _application_state(self, state: Qt.ApplicationState) -> None:
        if state != Qt.ApplicationState.ApplicationActive:
            self.flush_all()

    @Slot(object)
    def _commit_data(self, _manager: object) -> None:
        self.flush_all()  # the OS session ends

    # -- stop -------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Save every open case, flush pending writes (blocking is right at quit),
        close connections, unlock."""
        app = QGuiApplication.instance()
        if self._hears_application and isinstance(app, QGuiApplication):
            # The application outlives this desk (tests, a restart after a repair): its
            # signals must not reach a desk whose window is gone.
            app.applicationStateChanged.disconnect(self._application_state)
            app.commitDataRequest.disconnect(self._commit_data)
            self._hears_application = False
        for editor in self.window.editors():
            editor.close_case()
        if self._first_paint is not None:
            self._first_paint.cancel()  # closed before the cases were painted
            self._first_paint = None
        if self._full_check is not None:
            self._full_check.cancel()  # its position is saved: the next start continues
            self._full_check = None
        if self.sync is not None:
            self.sync.stop()  # before the writer: a sync write waits for the writer
        self._retention_timer.stop()
        self._full_check_timer.stop()
        self._list_refresh.stop()
        if self.writer_thread is not None:
            self.writer_thread.stop()
            self.writer_thread = None
        # Background tasks: cancelled (the full check stops at its next batch), waited
        # for, their threads joined — nothing outlives the desk.
        background.shutdown()
        background.set_error_handler(None)
        self.model.set_reader(None)
        if self.reader is not None:
            self.reader.close()
            self.reader = None
        self.lock.release()


SYNC_NOT_SET_UP = ("Sync is not set up yet: enter the server address and the enrolment "
                   "code (or this device's token) in Settings, then Save.")


def load_forms(paths: DataPaths, vault: Vault,
               reader: ReadStore | None = None) -> FormRegistry:
    """The installed form definitions with the versions the office pushed (checked when
    they arrived): new cases take the newest; drafts keep the version they were started
    with. Any thread: without `reader`, a read connection of its own."""
    from kycdesk.models.form_registry import FormRegistry

    if reader is not None:
        return FormRegistry.load_with_pushed(reader.pushed_forms())
    own = ReadStore(paths, vault=vault, role="forms")
    try:
        return FormRegistry.load_with_pushed(own.pushed_forms())
    finally:
        own.close()


# What the sync needs that the case list does not: imported on a background lane at
# startup, so making the sync controller in the GUI thread afterwards costs nothing.
# (Pure Python and extension modules: safe to import off the GUI thread.)
SYNC_STACK = ("kycdesk.sync.worker", "kycdesk.sync.tablet_hooks", "kycdesk.sync.credentials",
              "PySide6.QtNetwork")


def _import_sync_stack() -> None:
    for name in SYNC_STACK:
        importlib.import_module(name)


def sync_tuning(settings: Settings) -> dict[str, Any]:
    """The sync settings a person may tune (README: "Sync on a bad link")."""
    return {"parallel": settings.get(PARALLEL_UPLOADS),
            "stall_s": settings.get(STALL_SECONDS)}


def check_connection(url: str, token: str, ca_bundle: str | None) -> Health:
    """Settings → Test connection (the dialog runs it as a background task)."""
    from kycdesk.sync.client import check_health

    return check_health(url, token, ca_bundle=ca_bundle)


def enrol_with_code(url: str, code: str, ca_bundle: str | None) -> EnrolledDevice:
    """Settings → an enrolment code: this device's credential (a background task)."""
    from kycdesk.sync.client import enrol_device
    from kycdesk.sync.enrolment import default_device_name

    return enrol_device(url, code, default_device_name(), ca_bundle=ca_bundle)


def fill_screen(window: QWidget) -> None:
    """Fill the screen's available area on a small screen (a 1366x768 tablet with a
    taskbar must still show the status bar, where sync speaks)."""
    screen: QScreen | None = QGuiApplication.primaryScreen()
    if screen is None:  # no display (offscreen tests report one; be safe anyway)
        return
    area = screen.availableGeometry()
    if area.width() <= 1440 or area.height() <= 900:
        window.setGeometry(area)
        window.showMaximized()


def run_app(tablet: TabletPaths, *, startup_check: float | None = None,
            sign_in: tuple[str, str] | None = None) -> int:
    """The GUI: the sign-in screen, then the signed-in verifier's cases (kycdesk/gate.py).
    `startup_check` (CI, packaging, benchmarks; None: a normal run): quit as soon as the
    sign-in screen lists the verifiers — or, given `sign_in` (name, PIN), once that
    verifier's cases are painted and the desk's startup has finished, and at least
    `startup_check` seconds after the painting — printing how long that took and the GUI
    thread's longest stall (kycdesk/startup_check.py)."""
    from kycdesk.gate import Gate, default_desk
    from kycdesk.models.signin import SignedIn
    from kycdesk.platform_check import explain, missing_packages
    from kycdesk.sync.credentials import VerifierCredential
    from kycdesk.verifiers.migration import MigratingRegistry
    from kycdesk.verifiers.registry import Registry
    from kycdesk.verifiers.session import Session

    if QApplication.instance() is None and (missing := missing_packages()):
        print(explain(missing), file=sys.stderr)
        return ExitCode.STORE_UNUSABLE
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_NAME)
    app.setStyleSheet(app_stylesheet())
    # Windows tablets without a keyboard: a text field raises the touch keyboard and is
    # kept above it (kycdesk/touch; None off Windows).
    from kycdesk.touch.avoider import install_keyboard_avoider

    keyboard_avoider = install_keyboard_avoider(app)
    collector = GuiThreadCollector()  # cycles are freed in this thread only (see gc_guard)
    opened: list[Registry] = []  # the one the sign-in lane opened (files read there)

    notice = MigrationNotice()

    def open_registry() -> MigratingRegistry:
        opened.append(Registry.open(tablet))
        # A sign-in first finishes moving the cases from before sign-in into the
        # verifier's folder, encrypted (verifiers/migration.py), with its progress shown.
        return MigratingRegistry(opened[-1], tablet, progress=notice.report)

    def desk(session: SignedIn) -> KycDeskApp:
        made = default_desk(session)
        # What startup imported and built (modules, classes, form definitions) lives as
        # long as the app: out of the cyclic collector's sight, so the GUI thread's
        # periodic full collection (gc_guard) does not walk it again each time — that
        # was a 35-40 ms stall every few seconds once the sync stack and pydantic were in.
        made.startupFinished.connect(gc.freeze)
        if opened and isinstance(session, Session):  # the sync token, sealed for them
            made.kept_credential = VerifierCredential(opened[-1], session)
        return made

    def reach_server(session: SignedIn) -> None:
        """The lease page's "Try to reach the server" (on the sign-in lane)."""
        from kycdesk.sync.tablet_hooks import renew_lease

        settings = Settings()
        if opened and isinstance(session, Session):
            renew_lease(opened[-1], session, settings.get(SERVER_URL),
                        settings.get(CA_BUNDLE) or None)

    gate = Gate(open_registry, desk_factory=desk, reach_server=reach_server)
    notice.said.connect(gate.model.show_progress)
    _mark_start_good(gate)
    submitted: Callable[[], None] | None = None
    if startup_check is not None:
        from kycdesk.startup_check import StartupWatch

        watch = StartupWatch(gate, signing_in=sign_in is not None, watch_s=startup_check)
        submitted = watch.pin_submitted
    if sign_in is not None:
        _sign_in_when_listed(gate, *sign_in, submitted=submitted)
    gate.start()
    try:
        code = app.exec()
        if code == 0:  # a clean end is a good start too (the event loop is over)
            from kycdesk.update.pointer import mark_good, running_install

            if (here := running_install()) is not None:
                try:
                    mark_good(*here)
                except OSError as exc:  # the launcher counts this start as failed then
                    print(f"kycdesk: could not record a good start: {exc}", file=sys.stderr)
        return code
    finally:
        gate.shutdown()
        if keyboard_avoider is not None:
            keyboard_avoider.stop()
        collector.stop()


class MigrationNotice(QObject):
    """The migration's progress, from the sign-in lane to the sign-in screen (queued)."""

    said = Signal(str)

    def report(self, progress: MigrationProgress) -> None:
        self.said.emit(progress.message)


def _sign_in_when_listed(gate: Gate, name: str, pin: str, *,
                         submitted: Callable[[], None] | None = None) -> None:
    """`--user NAME --pin-stdin` for the GUI (kiosks, the start-up check): sign in as
    soon as the verifiers are listed (`submitted`: told as the PIN is handed over)."""
    def listed() -> None:
        match = next((v for v in gate.model.verifiers if v.name == name), None)
        if match is None:
            return
        gate.model.changed.disconnect(listed)
        gate.model.choose(match.verifier_id)
        if submitted is not None:
            submitted()
        gate.model.submit_pin(pin)

    gate.model.changed.connect(listed)


def _mark_start_good(gate: Gate) -> None:
    """Under the update launcher: this version started (the verifier's store opened and
    startup finished, or the sign-in screen stayed up 30 s), so it is kept instead of
    being rolled back (docs/updates.md)."""
    from kycdesk.update_watch import StartCountsGood, mark_start_good_when

    def desk_ready() -> bool:
        desk = gate.desk
        return desk is not None and desk.startup_finished_at is not None

    def sign_in_shown() -> bool:  # and no sign-in has failed to open the cases
        return gate.screen.isVisible() and gate.open_failures == 0

    mark_start_good_when(StartCountsGood(desk_ready, sign_in_shown))
