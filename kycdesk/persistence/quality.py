"""The retake checks of a stored or captured photo (`core.photo_quality`) from its file:
decoded at about 1,000 px (the JPEG decoder skips most of a 12 MP photo's work), as grey.
Called off the GUI thread (a `run_task` job)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

from kycdesk.core.photo_quality import Grey, Quality, assess
from kycdesk.persistence.image_memory import BytesImageReader
from kycdesk.persistence.thumbnails import decode_scaled

CHECK_EDGE = 1024


def grey_of(image: QImage) -> Grey:
    grey = image.convertToFormat(QImage.Format.Format_Grayscale8)
    width, height, stride = grey.width(), grey.height(), grey.bytesPerLine()
    rows = np.frombuffer(grey.constBits(), dtype=np.uint8, count=stride * height)
    return rows.reshape(height, stride)[:, :width].copy()  # the copy outlives the QImage


def check_photo(source: Path | bytes) -> Quality | None:
    """None if the photo cannot be decoded (the import's own checks say why). `source`:
    a stored photo's decrypted bytes (in memory), or a clear file (tools, benchmarks)."""
    data = source if isinstance(source, bytes) else source.read_bytes()
    size = BytesImageReader(data).size()  # the header only
    # Never enlarged: an enlarged small photo would measure blurred.
    edge = min(CHECK_EDGE, max(size.width(), size.height())) if size.isValid() else CHECK_EDGE
    image = decode_scaled(data, edge)
    if image.isNull() or min(image.width(), image.height()) < 16:
        return None
    return assess(grey_of(image))
