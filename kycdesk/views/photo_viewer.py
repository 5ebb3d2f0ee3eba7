"""Full-size photo viewer with zoom (wheel, pinch, +/-, 0 = fit, 1 = 100 %).

The large image is decoded on the thumbnail pool (never on the GUI thread); the
thumbnail is shown meanwhile."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QImage, QKeyEvent, QPixmap, QWheelEvent
from PySide6.QtWidgets import (
    QDialog,
    QGestureEvent,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QPinchGesture,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kycdesk.core.records import ImageRecord
from kycdesk.models.photo_text import describe_location, describe_taken
from kycdesk.models.thumbnails import ThumbnailLoader
from kycdesk.views.style import TOUCH

FULL_EDGE = 2400  # the long side decoded when the photo's own size is not known
# At most this long side is decoded (~190 MB for a 48 MP photo at 4:3): beyond it, "100 %"
# still shows the photo at its own size, from a decode this big, scaled up.
MAX_FULL_EDGE = 8000


class PhotoViewer(QDialog):
    def __init__(self, image: ImageRecord, loader: ThumbnailLoader,
                 parent: QWidget | None = None, *, comments: list[str] | None = None
                 ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Photo")
        self.resize(1000, 760)
        self.image = image
        self.scene = QGraphicsScene(self)
        self.item = QGraphicsPixmapItem()
        self.item.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self.scene.addItem(self.item)
        self.view = QGraphicsView(self.scene, self)
        self.view.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.view.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.view.viewport().grabGesture(Qt.GestureType.PinchGesture)
        self.view.viewport().installEventFilter(self)
        info = QLabel(self._caption(), self)
        info.setObjectName("photo-caption")
        info.setWordWrap(True)
        buttons = QHBoxLayout()
        for text, slot in (("−", lambda: self.zoom(1 / 1.25)), ("+", lambda: self.zoom(1.25)),
                           ("Fit", self.fit), ("100 %", self.actual_size),
                           ("Close", self.accept)):
            button = QPushButton(text, self)
            button.setMinimumSize(TOUCH, TOUCH)
            button.clicked.connect(slot)
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        if comments:  # the reviewer's words about this photo, above it
            note = QLabel("\n".join(f"Reviewer: {c}" for c in comments), self)
            note.setObjectName("photo-comments")
            note.setProperty("role", "comment")
            note.setWordWrap(True)
            note.setTextFormat(Qt.TextFormat.PlainText)
            layout.addWidget(note)
        layout.addWidget(self.view, 1)
        layout.addWidget(info)
        layout.addLayout(buttons)
        # The scene is in the photo's own pixels (the item is scaled to them), so "100 %"
        # — the view's identity transform — is one photo pixel per screen pixel whatever
        # size was decoded (the thumbnail first, then the photo at its own size: the
        # 2,400 px decode it used to be enlarged a small photo and shrank a big one).
        self._own_edge = max(image.width or 0, image.height or 0)
        self._fitted = True  # until the verifier zooms: a later, sharper decode fits too
        thumb = loader.cached(image.id)  # (the list's thumbnail, shown meanwhile)
        if thumb is not None and not thumb.isNull():
            self._show(thumb)
        edge = min(self._own_edge, MAX_FULL_EDGE) if self._own_edge else FULL_EDGE
        self._full = ThumbnailLoader(loader.paths, loader.vault, edge=edge, lane=loader.lane)
        self._full.thumbnailReady.connect(self._loaded)
        self._full.request(image.id, image.file_path)

    def _caption(self) -> str:
        image = self.image
        size = f"{image.width}×{image.height}" if image.width else "size unknown"
        taken = describe_taken(image.captured_at, image.captured_at_source)
        return f"{image.slot or 'photo'} · {size} · {taken} · " \
               f"{describe_location(image.location)}"

    def _loaded(self, _image_id: int, image: QImage) -> None:
        if not image.isNull():
            self._show(image)

    def _show(self, image: QImage) -> None:
        self.item.setPixmap(QPixmap.fromImage(image))
        decoded = max(image.width(), image.height())
        self.item.setScale(self._own_edge / decoded if self._own_edge and decoded else 1.0)
        self.scene.setSceneRect(self.item.sceneBoundingRect())
        if self._fitted:
            self.fit()

    def zoom(self, factor: float) -> None:
        self._fitted = False
        self.view.scale(factor, factor)

    def fit(self) -> None:
        self._fitted = True
        self.view.fitInView(self.item, Qt.AspectRatioMode.KeepAspectRatio)

    def actual_size(self) -> None:
        """One photo pixel per screen pixel."""
        self._fitted = False
        self.view.resetTransform()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom(1.25)
        elif key == Qt.Key.Key_Minus:
            self.zoom(1 / 1.25)
        elif key == Qt.Key.Key_0:
            self.fit()
        elif key == Qt.Key.Key_1:
            self.actual_size()
        else:
            super().keyPressEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and isinstance(event, QWheelEvent):
            self.zoom(1.15 if event.angleDelta().y() > 0 else 1 / 1.15)
            return True
        if event.type() == QEvent.Type.Gesture and isinstance(event, QGestureEvent):
            pinch = event.gesture(Qt.GestureType.PinchGesture)
            if isinstance(pinch, QPinchGesture):
                self.zoom(pinch.scaleFactor())
                return True
        return super().eventFilter(watched, event)
