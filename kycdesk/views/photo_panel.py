"""Photo slots of a case: import (dialog or drag-and-drop), camera capture, thumbnails,
viewer, delete with confirmation. Every change goes through the case session; the panel
only shows what the store confirmed, and the reason when it refused a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSize, Qt, Signal, Slot
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QScroller,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from kycdesk.core.form_schema import FieldDef
from kycdesk.core.records import ImageRecord, Location
from kycdesk.models.case_session import CaseSession
from kycdesk.models.photo_list_model import THUMB, PhotoListModel
from kycdesk.views.camera import CameraSource, CapturedPhoto, NoCamera
from kycdesk.views.camera_viewfinder import Viewfinder
from kycdesk.views.confirm import Confirm, ask_confirmation
from kycdesk.views.photo_viewer import PhotoViewer
from kycdesk.views.style import TOUCH
from kycdesk.views.wheel_guard import guard_against_wheel

IMAGE_FILTER = "Photos (*.jpg *.jpeg *.png *.heic *.heif);;All files (*)"


class _PhotoCell(QStyledItemDelegate):
    """Every photo's cell one size: the thumbnail and two lines of text. Left to the view,
    the size came from whichever item it measured first (a photo added later measured
    with its small placeholder), and "Location ✓" under every photo was cut off."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
                 ) -> QSize:
        lines = 2 * option.fontMetrics.height()
        return QSize(THUMB + 16, THUMB * 3 // 4 + lines + 8)


class PhotoSlotWidget(QFrame):
    """One slot ("ID document — front"): its photos and its buttons."""

    importRequested = Signal(str, list)  # slot, [Path]
    captureRequested = Signal(str)
    deleteRequested = Signal(int)
    viewRequested = Signal(int)

    def __init__(self, field: FieldDef, model: PhotoListModel, *, camera_available: bool,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = field
        self.model = model
        self.setObjectName(f"photos:{field.slot}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAcceptDrops(True)
        title = QLabel(f"<b>{field.label}</b>", self)
        self.count_label = QLabel("", self)
        self.import_button = QPushButton("Add photos…", self)
        self.import_button.setMinimumHeight(TOUCH)
        self.import_button.setToolTip("Choose photo files, or drop them here")
        self.import_button.clicked.connect(self._choose_files)
        self.capture_button = QPushButton("Take photo", self)
        self.capture_button.setMinimumHeight(TOUCH)
        self.capture_button.setVisible(camera_available)
        # A bound method, not a lambda holding `self` (a cycle through C++ that keeps the
        # panel, its thumbnail loader and so the verifier's keys alive after a lock).
        self.capture_button.clicked.connect(self._capture_clicked)
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.setMinimumHeight(TOUCH)
        self.delete_button.clicked.connect(self._delete_selected)
        self.view = QListView(self)
        self.view.setModel(model)
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setIconSize(QSize(THUMB, THUMB * 3 // 4))
        self.view.setItemDelegate(_PhotoCell(self.view))
        text_lines = 2 * self.view.fontMetrics().height()
        self.view.setGridSize(QSize(THUMB + 20, THUMB * 3 // 4 + max(44, text_lines + 14)))
        self.view.setWordWrap(True)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)
        self.view.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.view.activated.connect(self._activated)
        self.view.installEventFilter(self)
        self._wheel_guard = guard_against_wheel(self.view)  # the wheel scrolls the form
        QScroller.grabGesture(self.view.viewport(),
                              QScroller.ScrollerGestureType.LeftMouseButtonGesture)
        self.status_label = QLabel("", self)
        self.status_label.setWordWrap(True)
        self.error_label = QLabel("", self)
        self.error_label.setProperty("role", "error")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        self.errors: list[str] = []
        # A retake suggestion for the newest flagged photo, with the way to keep it anyway.
        self.quality_box = QWidget(self)
        self.quality_box.setObjectName(f"quality:{field.slot}")
        quality_row = QHBoxLayout(self.quality_box)
        quality_row.setContentsMargins(0, 0, 0, 0)
        self.quality_label = QLabel("", self.quality_box)
        self.quality_label.setProperty("role", "error")
        self.quality_label.setWordWrap(True)
        self.keep_button = QPushButton("Keep this photo", self.quality_box)
        self.keep_button.setMinimumHeight(TOUCH)
        self.keep_button.clicked.connect(self._keep)
        quality_row.addWidget(self.quality_label, 1)
        quality_row.addWidget(self.keep_button)
        self.quality_box.hide()
        self.flagged: tuple[int, list[str]] | None = None
        header = QHBoxLayout()
        header.addWidget(title)
        header.addWidget(self.count_label)
        header.addStretch(1)
        header.addWidget(self.import_button)
        header.addWidget(self.capture_button)
        header.addWidget(self.delete_button)
        # The reviewer's comments on this slot's photos (a returned case).
        self.comment_label = QLabel("", self)
        self.comment_label.setObjectName(f"photo-comment:{field.slot}")
        self.comment_label.setProperty("role", "comment")
        self.comment_label.setWordWrap(True)
        self.comment_label.setTextFormat(Qt.TextFormat.PlainText)
        self.comment_label.hide()
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.comment_label)
        layout.addWidget(self.view)
        layout.addWidget(self.status_label)
        layout.addWidget(self.error_label)
        layout.addWidget(self.quality_box)
        model.rowsInserted.connect(self.refresh_count)
        model.rowsRemoved.connect(self.refresh_count)
        model.modelReset.connect(self.refresh_count)
        self.read_only = False
        self.refresh_count()

    def refresh_count(self) -> None:
        count = self.model.rowCount()
        # One row of thumbnails, two once the slot holds many; the page scrolls, not
        # every slot separately.
        rows = 1 if count <= 5 else 2
        self.view.setFixedHeight(self.view.gridSize().height() * rows + 12)
        field = self.field
        need = f"{field.min_count}–{field.max_count}" if field.min_count != field.max_count \
            else str(field.max_count)
        self.count_label.setText(f"{count} of {need}")
        full = count >= field.max_count
        self.import_button.setEnabled(not self.read_only and not full)
        self.capture_button.setEnabled(not self.read_only and not full)
        self.delete_button.setEnabled(not self.read_only and count > 0)

    def set_read_only(self, read_only: bool) -> None:
        self.read_only = read_only
        self.setAcceptDrops(not read_only)
        self.refresh_count()

    def show_comments(self, lines: list[str]) -> None:
        self.comment_label.setText("\n".join(lines))
        self.comment_label.setVisible(bool(lines))

    def select_photo(self, client_image_id: str) -> bool:
        """Select (and focus) the photo a comment is about; False if it is not here."""
        for row, image in enumerate(self.model.images):
            if image.client_image_id == client_image_id:
                index = self.model.index(row)
                self.view.setCurrentIndex(index)
                self.view.scrollTo(index)
                self.view.setFocus(Qt.FocusReason.OtherFocusReason)
                return True
        return False

    keepRequested = Signal(str, int, list)  # slot, image id, the suggestions overridden

    def show_quality(self, image_id: int, suggestions: list[str]) -> None:
        if not suggestions:
            return  # checked and fine: an earlier photo's suggestion stays until handled
        self.flagged = (image_id, suggestions)
        self.quality_label.setText("⚠ " + " ".join(suggestions))
        self.keep_button.setEnabled(not self.read_only)
        self.quality_box.show()

    def clear_quality(self, image_id: int | None = None) -> None:
        if self.flagged is not None and image_id in (None, self.flagged[0]):
            self.flagged = None
            self.quality_box.hide()

    def _keep(self) -> None:
        if self.flagged is not None:
            image_id, suggestions = self.flagged
            self.keepRequested.emit(self.field.slot, image_id, suggestions)
            self.clear_quality()

    def show_error(self, message: str | None) -> None:
        self.errors = [message] if message else []
        self.error_label.setText(message or "")
        self.error_label.setVisible(bool(message))

    def add_error(self, message: str) -> None:
        """Several files refused in one go: every reason stays, one line each (cleared
        when the verifier adds photos again)."""
        self.errors.append(message)
        self.error_label.setText("\n".join(self.errors))
        self.error_label.show()

    @Slot()
    def _capture_clicked(self) -> None:
        self.captureRequested.emit(self.field.slot)

    def _choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, f"Add photos: {self.field.label}", "",
                                                IMAGE_FILTER)
        if files:
            self.importRequested.emit(self.field.slot, [Path(f) for f in files])

    def _selected_image(self) -> ImageRecord | None:
        index = self.view.currentIndex()
        if not index.isValid():
            return None
        image = index.data(PhotoListModel.ImageRole)
        return image if isinstance(image, ImageRecord) else None

    def _delete_selected(self) -> None:
        image = self._selected_image() or (self.model.images[-1] if self.model.images else None)
        if image is not None and not self.read_only:
            self.deleteRequested.emit(image.id)

    def _activated(self, index: QModelIndex) -> None:
        image = index.data(PhotoListModel.ImageRole)
        if isinstance(image, ImageRecord):
            self.viewRequested.emit(image.id)

    def eventFilter(self, watched: Any, event: Any) -> bool:
        if (watched is self.view and isinstance(event, QKeyEvent)
                and event.type() == QKeyEvent.Type.KeyPress
                and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)):
            self._delete_selected()
            return True
        return super().eventFilter(watched, event)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if not self.read_only and event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            self.importRequested.emit(self.field.slot, files)
            event.acceptProposedAction()


class PhotoPanel(QWidget):
    """All photo slots of one case, over the case session's photo models."""

    def __init__(self, session: CaseSession, *, camera: CameraSource | None = None,
                 captures_dir: Path | None = None,
                 confirm: Confirm = ask_confirmation) -> None:
        super().__init__()
        self.session = session
        # Captures are ID documents: they go only to the data dir's own captures folder
        # (paths.DataPaths.captures_dir); without one there is nowhere to take a photo.
        self.captures_dir = captures_dir
        self.camera = camera if camera is not None and captures_dir is not None \
            else NoCamera()
        self.confirm = confirm
        self.viewfinder: Viewfinder | None = None  # the last one opened (tests look at it)
        # Reviewer comments per photo (client image id -> lines), shown in the viewer too.
        self.photo_comments: dict[str, list[str]] = {}
        self.slots: dict[str, PhotoSlotWidget] = {}
        for slot, field in session.slot_fields.items():
            widget = PhotoSlotWidget(field, session.photos[slot],
                                     camera_available=self.camera.available())
            widget.set_read_only(not session.editable)
            widget.importRequested.connect(self.import_files)
            widget.captureRequested.connect(self.capture)
            widget.deleteRequested.connect(self.delete)
            widget.viewRequested.connect(self.view)
            widget.keepRequested.connect(session.keep_photo)
            self.slots[slot] = widget
        session.photosPending.connect(self._show_pending)
        # Bound methods, not lambdas holding `self`: a lambda connected to the session's
        # signal is a reference cycle through C++ that Python never frees (the session,
        # its store client and a signed-in verifier's keys outlived a lock).
        session.photoError.connect(self._photo_error)
        session.photoQuality.connect(self._photo_quality)
        session.photosChanged.connect(self._forget_deleted)

    @Slot(str, str)
    def _photo_error(self, slot: str, message: str) -> None:
        self.slots[slot].add_error(message)

    @Slot(str, int, list)
    def _photo_quality(self, slot: str, image_id: int, words: list[str]) -> None:
        self.slots[slot].show_quality(image_id, words)

    def busy(self) -> bool:
        return self.session.busy()

    def set_read_only(self, read_only: bool) -> None:
        for widget in self.slots.values():
            widget.set_read_only(read_only)

    @Slot(str, list)
    def import_files(self, slot: str, files: list[Path]) -> None:
        self.slots[slot].show_error(None)
        self.session.add_photos(slot, files)

    @Slot(str)
    def capture(self, slot: str) -> None:
        """Open the viewfinder for `slot`. The photo it takes (in memory) goes to the
        session, which encrypts it into the captures folder and hands it to the store,
        and the capture is removed whether the store took it or refused it (startup
        recovery keeps a complete one a crash left behind in lost+found, removes an
        interrupted one)."""
        widget = self.slots[slot]
        widget.show_error(None)
        viewfinder = Viewfinder(self.camera, slot, widget.field.label, self)
        viewfinder.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        viewfinder.photoTaken.connect(self._captured)
        self.viewfinder = viewfinder
        viewfinder.open()
        viewfinder.start()

    @Slot(str, object, object)
    def _captured(self, slot: str, photo: CapturedPhoto, location: Location) -> None:
        self.session.add_capture(slot, photo, location)

    @Slot(int)
    def delete(self, image_id: int) -> None:
        if self.session.editable and self.confirm(
                self, "Delete this photo? This cannot be undone."):
            self.session.delete_photo(image_id)

    @Slot(int)
    def view(self, image_id: int) -> None:
        image = self.session.find_photo(image_id)
        if image is not None:
            viewer = PhotoViewer(image, self.session.thumbnails, self,
                                 comments=self.photo_comments.get(image.client_image_id, []))
            viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            viewer.open()

    def show_comments(self, by_image: dict[str, list[str]]) -> None:
        """Each comment at its photo's slot, naming which photo ("Photo 2: …")."""
        self.photo_comments = by_image
        for slot, widget in self.slots.items():
            lines = []
            for number, image in enumerate(self.session.photos[slot].images, start=1):
                lines += [f"Reviewer on photo {number}: {text}"
                          for text in by_image.get(image.client_image_id, [])]
            widget.show_comments(lines)

    def slot_of(self, client_image_id: str) -> str | None:
        for slot, model in self.session.photos.items():
            if any(i.client_image_id == client_image_id for i in model.images):
                return slot
        return None

    @Slot(str, int)
    def _forget_deleted(self, slot: str, _count: int) -> None:
        """A suggestion about a photo that was deleted (retaken) goes with it."""
        widget = self.slots[slot]
        if widget.flagged is not None and self.session.find_photo(widget.flagged[0]) is None:
            widget.clear_quality()

    @Slot(str, int)
    def _show_pending(self, slot: str, pending: int) -> None:
        self.slots[slot].status_label.setText(
            f"Adding {pending} photo{'s' if pending != 1 else ''}…" if pending else "")
