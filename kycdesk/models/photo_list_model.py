"""The photos of one slot of a case, as a Qt list model with thumbnails (decoded off the
GUI thread by the ThumbnailLoader; a grey placeholder until then)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Slot,
)
from PySide6.QtGui import QColor, QImage, QPixmap

from kycdesk.core.records import ImageRecord
from kycdesk.models.photo_text import describe_location, describe_taken
from kycdesk.models.thumbnails import ThumbnailLoader

ModelIndex = QModelIndex | QPersistentModelIndex
THUMB = 140


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
            return f"{describe_taken(image.captured_at, image.captured_at_source)}\n" \
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
