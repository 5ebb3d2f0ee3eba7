"""Crash-test child: drives the real persistence writer with a scripted random stream
of field edits, saves, photo imports and deletes, printing every step on stdout:

    READY <case_id>
    INTENT <n> <json op>     before the write is submitted
    ACK <n> <json result>    when the writer reported it durable
    FAIL <n> <message>       the writer refused it (the parent treats this as a bug)
    DONE                     all ops acknowledged

Ops are submitted in bursts (like an editor that does not wait for the disk), so several
can be in flight when the parent's SIGKILL lands.

Usage: python -m tests.crash.child DATA_DIR SEED MAX_OPS IMAGE [IMAGE ...]
"""

from __future__ import annotations

import functools
import json
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.vaults import make_vault

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtGui import QGuiApplication

from kycdesk.core.records import ImageRecord, Location
from kycdesk.core.results import Result
from kycdesk.paths import resolve
from kycdesk.persistence.commands import (
    AddImage,
    AppendEdit,
    Command,
    CreateCase,
    DeleteImage,
    SaveForm,
)
from kycdesk.persistence.writer import WriterThread

FIELDS = [f"step{s}.field{f}" for s in range(4) for f in range(6)]


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@dataclass
class Op:
    n: int
    kind: str
    data: dict[str, Any]


class Driver(QObject):
    def __init__(self, thread: WriterThread, rng: random.Random, images: list[Path],
                 max_ops: int) -> None:
        super().__init__()
        self.writer = thread.client
        self.rng = rng
        self.images = images
        self.max_ops = max_ops
        self.case_id = ""
        self.form: dict[str, Any] = {}
        self.counter = 0
        self.inflight: dict[int, Op] = {}
        self.acked_images: list[int] = []
        self.deleting: set[int] = set()
        self.writer.opened.connect(self.on_opened)

    @Slot(object)
    def on_opened(self, _report: object) -> None:
        self.writer.submit(CreateCase(reference_number="crash-test"), self.on_created)

    def on_created(self, result: Result[str]) -> None:
        if not result.ok:
            emit(f"FAIL create {result.error}")
            QGuiApplication.exit(3)
            return
        self.case_id = result.value
        emit(f"READY {self.case_id}")
        self.burst()

    def on_result(self, n: int, outcome: Result[object]) -> None:
        op = self.inflight.pop(n)
        if not outcome.ok:
            emit(f"FAIL {op.n} {outcome.error}")
            QGuiApplication.exit(3)
            return
        result = outcome.value
        summary: Any = None
        if isinstance(result, ImageRecord):
            summary = {"image_id": result.id, "sha256": result.sha256,
                       "file": result.file_path}
            self.acked_images.append(result.id)
        elif op.kind == "delete":
            self.acked_images.remove(op.data["image_id"])
        else:
            summary = result
        emit(f"ACK {op.n} {json.dumps(summary)}")
        if not self.inflight:
            if self.counter >= self.max_ops:
                emit("DONE")
                QGuiApplication.quit()
            else:
                self.burst()

    def burst(self) -> None:
        for _ in range(self.rng.randint(1, 5)):
            op, command = self.next_op()
            emit(f"INTENT {op.n} {json.dumps({'kind': op.kind, **op.data})}")
            self.inflight[op.n] = op
            self.writer.submit(command, functools.partial(self.on_result, op.n))

    def next_op(self) -> tuple[Op, Command[object]]:
        self.counter += 1
        n = self.counter
        roll = self.rng.random()
        deletable = [i for i in self.acked_images if i not in self.deleting]
        if roll < 0.08 and deletable:
            image_id = self.rng.choice(deletable)
            self.deleting.add(image_id)
            return (Op(n, "delete", {"image_id": image_id}),
                    DeleteImage(self.case_id, image_id))
        if roll < 0.20:
            source = self.rng.choice(self.images)
            return (Op(n, "add", {"source": str(source)}),
                    AddImage(self.case_id, source, slot="site_photo",
                             location=Location(51.5, -0.12, 10.0, None)))
        if roll < 0.35:
            return (Op(n, "save", {}), SaveForm(self.case_id, dict(self.form)))
        field = self.rng.choice(FIELDS)
        value: Any = self.rng.choice([
            f"text {n}", n, n / 7, self.rng.random() < 0.5, None, ["a", n], {"k": n},
            "unicode ünïcødé " + str(n)])
        self.form[field] = value
        return (Op(n, "edit", {"field": field, "value": value}),
                AppendEdit(self.case_id, field, value))


def main(argv: list[str]) -> int:
    data_dir, seed, max_ops, *images = argv
    app = QGuiApplication(sys.argv[:1])
    thread = WriterThread(resolve(data_dir), retry_first_ms=50, vault=make_vault())
    driver = Driver(thread, random.Random(int(seed)), [Path(p) for p in images], int(max_ops))
    QTimer.singleShot(0, thread.start)
    code = app.exec()
    thread.stop()
    del driver
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
