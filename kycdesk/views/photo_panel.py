"""Photo slots of a case: import (dialog or drag-and-drop), camera capture, thumbnails,
viewer, delete with confirmation. Every change goes through the writer; the panel only
shows what the writer confirmed, and the reason when it refused a file."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QSize,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QImage, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QScroller,
    QVBoxLayout,
    QWidget,
)

from kycdesk.models.form_schema import FieldDef
from kycdesk.persistence.client import StoreClient
from kycdesk.persistence.commands import AddImage, DeleteImage
from kycdesk.persistence.records import ImageRecord, Location
from kycdesk.persistence.thumbnails import ThumbnailLoader
from kycdesk.views.camera import CameraSource, NoCamera
from kycdesk.views.photo_text import describe_location
from kycdesk.views.photo_viewer import PhotoViewer
from kycdesk.views.style import TOUCH

ModelIndex = QModelIndex | QPersistentModelIndex
Confirm = Callable[[QWidget, str], bool]
THUMB = 140
IMAGE_FILTER = "Photos (*.jpg *.jpeg *.png *.heic *.heif);;All files (*)"


def _placeholder() -> QPixmap:
    pixmap = QPixmap(THUMB, THUMB * 3 // 4)
    pixmap.fill(QColor("#e3e6e8"))
    return pixmap


class PhotoListModel(QAbstractListModel):
    ImageRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, loader: ThumbnailLoader) -> None:
        super().__init__()
        self.loader = loader
        self.images: list[ImageRecord] = []
        self._placeholder = _placeholder()
        loader.thumbnailReady.connect(self._thumbnail_ready)

    def set_images(self, images: list[ImageRecord]) -> None:
        self.beginResetModel()
        self.images = list(images)
        self.endResetModel()

    def append(self, image: ImageRecord) -> None:
        self.beginInsertRows(QModelIndex(), len(self.images), len(self.images))
        self.images.append(image)
        self.endInsertRows()

    def remove(self, image_id: int) -> bool:
        for row, image in enumerate(self.images):
            if image.id == image_id:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self.images[row]
                self.endRemoveRows()
                return True
        return False

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.images)

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.images):
            return None
        image = self.images[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return "Location ✓" if image.location.known else "No location"
        if role == Qt.ItemDataRole.DecorationRole:
            cached = self.loader.cached(image.id)
            if cached is None:
                self.loader.request(image.id, image.file_path)
                return self._placeholder
            if cached.isNull():
                return self._placeholder
            return QPixmap.fromImage(cached)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"Taken {image.captured_at or 'at an unknown time'}\n" \
                   f"{describe_location(image.location)}"
        if role == self.ImageRole:
            return image
        return None

    @Slot(int, QImage)
    def _thumbnail_ready(self, image_id: int, _image: QImage) -> None:
        for row, image in enumerate(self.images):
            if image.id == image_id:
                index = self.index(row)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])
                return


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
        self.capture_button.clicked.connect(lambda: self.captureRequested.emit(field.slot))
        self.delete_button = QPushButton("Delete", self)
        self.delete_button.setMinimumHeight(TOUCH)
        self.delete_button.clicked.connect(self._delete_selected)
        self.view = QListView(self)
        self.view.setModel(model)
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setIconSize(QSize(THUMB, THUMB * 3 // 4))
        self.view.setGridSize(QSize(THUMB + 20, THUMB * 3 // 4 + 44))
        self.view.setWordWrap(True)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)
        self.view.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
        self.view.activated.connect(self._activated)
        self.view.installEventFilter(self)
        QScroller.grabGesture(self.view.viewport(),
                              QScroller.ScrollerGestureType.LeftMouseButtonGesture)
        self.status_label = QLabel("", self)
        self.status_label.setWordWrap(True)
        self.error_label = QLabel("", self)
        self.error_label.setProperty("role", "error")
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        header = QHBoxLayout()
        header.addWidget(title)
        header.addWidget(self.count_label)
        header.addStretch(1)
        header.addWidget(self.import_button)
        header.addWidget(self.capture_button)
        header.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.addLayout(header)
        layout.addWidget(self.view)
        layout.addWidget(self.status_label)
        layout.addWidget(self.error_label)
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

    def show_error(self, message: str | None) -> None:
        self.error_label.setText(message or "")
        self.error_label.setVisible(bool(message))

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


def ask_confirmation(parent: QWidget, question: str) -> bool:
    from PySide6.QtWidgets import QMessageBox

    answer = QMessageBox.question(parent, "kycdesk", question,
                                  QMessageBox.StandardButton.Yes
                                  | QMessageBox.StandardButton.No,
                                  QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


class PhotoPanel(QWidget):
    """All photo slots of one case; talks to the writer, reports counts to the editor."""

    photosChanged = Signal(str, int)   # slot, count — acknowledged by the writer
    changeAcknowledged = Signal()      # a photo was added or deleted: save the draft now

    def __init__(self, case_id: str, fields: list[FieldDef], images: list[ImageRecord],
                 client: StoreClient, loader: ThumbnailLoader, *,
                 camera: CameraSource | None = None, confirm: Confirm = ask_confirmation,
                 read_only: bool = False) -> None:
        super().__init__()
        self.case_id = case_id
        self.client = client
        self.loader = loader
        self.camera = camera or NoCamera()
        self.confirm = confirm
        self.read_only = read_only
        self.models: dict[str, PhotoListModel] = {}
        self.slots: dict[str, PhotoSlotWidget] = {}
        self._tickets: dict[int, tuple[str, str]] = {}  # ticket -> (slot, file name)
        by_slot: dict[str, list[ImageRecord]] = {}
        for image in images:
            by_slot.setdefault(image.slot or "", []).append(image)
        for field in fields:
            model = PhotoListModel(loader)
            model.set_images(by_slot.get(field.slot, []))
            widget = PhotoSlotWidget(field, model, camera_available=self.camera.available())
            widget.set_read_only(read_only)
            widget.importRequested.connect(self.import_files)
            widget.captureRequested.connect(self.capture)
            widget.deleteRequested.connect(self.delete)
            widget.viewRequested.connect(self.view)
            self.models[field.slot] = model
            self.slots[field.slot] = widget
        client.imageAdded.connect(self._image_added)
        client.imageDeleted.connect(self._image_deleted)
        client.failed.connect(self._failed)
        client.completed.connect(self._completed)

    def busy(self) -> bool:
        """Photos handed to the writer and not yet stored (or refused)."""
        return bool(self._tickets)

    def counts(self) -> dict[str, int]:
        return {slot: model.rowCount() for slot, model in self.models.items()}

    def set_read_only(self, read_only: bool) -> None:
        self.read_only = read_only
        for widget in self.slots.values():
            widget.set_read_only(read_only)

    def _pending_in(self, slot: str) -> int:
        return sum(1 for s, _ in self._tickets.values() if s == slot)

    @Slot(str, list)
    def import_files(self, slot: str, files: list[Path]) -> None:
        if self.read_only:
            return
        widget = self.slots[slot]
        room = widget.field.max_count - self.models[slot].rowCount() - self._pending_in(slot)
        widget.show_error(None)
        if len(files) > room:
            widget.show_error(f"{widget.field.label} takes at most {widget.field.max_count} "
                              f"photo(s); {len(files) - max(room, 0)} file(s) were not added.")
            files = files[:max(room, 0)]
        for path in files:
            ticket = self.client.submit(AddImage(self.case_id, path, slot=slot))
            self._tickets[ticket] = (slot, path.name)
        self._show_pending(slot)

    @Slot(str)
    def capture(self, slot: str) -> None:
        folder = Path(tempfile.gettempdir()) / "kycdesk-captures"
        widget = self.slots[slot]
        widget.status_label.setText("Taking photo…")

        def done(path: Path | None, location: Location, error: str | None) -> None:
            widget.status_label.setText("")
            if path is None:
                widget.show_error(error or "The photo could not be taken.")
                return
            ticket = self.client.submit(AddImage(self.case_id, path, slot=slot,
                                                 location=location, origin="camera",
                                                 remove_source=True))
            self._tickets[ticket] = (slot, "camera photo")
            self._show_pending(slot)

        self.camera.capture(folder, done)

    @Slot(int)
    def delete(self, image_id: int) -> None:
        if self.read_only:
            return
        if self.confirm(self, "Delete this photo? This cannot be undone."):
            self.client.submit(DeleteImage(self.case_id, image_id))

    @Slot(int)
    def view(self, image_id: int) -> None:
        for model in self.models.values():
            for image in model.images:
                if image.id == image_id:
                    viewer = PhotoViewer(image, self.loader, self)
                    viewer.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
                    viewer.open()
                    return

    def _show_pending(self, slot: str) -> None:
        pending = self._pending_in(slot)
        self.slots[slot].status_label.setText(
            f"Adding {pending} photo{'s' if pending != 1 else ''}…" if pending else "")

    @Slot(str, object)
    def _image_added(self, case_id: str, image: object) -> None:
        if case_id != self.case_id or not isinstance(image, ImageRecord):
            return
        model = self.models.get(image.slot or "")
        if model is None:
            return
        model.append(image)
        self.photosChanged.emit(image.slot or "", model.rowCount())
        self.changeAcknowledged.emit()

    @Slot(str, int)
    def _image_deleted(self, case_id: str, image_id: int) -> None:
        if case_id != self.case_id:
            return
        for slot, model in self.models.items():
            if model.remove(image_id):
                self.photosChanged.emit(slot, model.rowCount())
                self.changeAcknowledged.emit()
                return

    @Slot(int, object)
    def _completed(self, ticket: int, _result: object) -> None:
        entry = self._tickets.pop(ticket, None)
        if entry is not None:
            self._show_pending(entry[0])

    @Slot(int, str, str)
    def _failed(self, ticket: int, _case_id: str, message: str) -> None:
        entry = self._tickets.pop(ticket, None)
        if entry is None:
            return
        slot, name = entry
        self.slots[slot].show_error(f"{name} was not added: {message}")
        self._show_pending(slot)
