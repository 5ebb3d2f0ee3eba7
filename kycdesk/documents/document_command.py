"""`kycdesk case document FILE [--json]`: what an ID document's photo says — its MRZ (with
which check digits passed) or, on a card's back, its PDF417 barcode (parsed AAMVA fields) —
and which values would be offered to the form. Exit 0 when values are offered, 1 when
nothing could be read or nothing is offered (a sentence on stderr says why). Needs no data
folder: it reads the file only.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from kycdesk.core.clock import now
from kycdesk.core.id_document import LABELS, as_json
from kycdesk.exit_codes import ExitCode


def run(source: str, as_json_output: bool, out: TextIO) -> int:
    try:
        from kycdesk.documents.document_reader import NothingReadError, read_document
        from kycdesk.documents.mrz_command import reading_json
    except ImportError as exc:
        print("error: reading ID documents needs kycdesk[documents] (numpy, Pillow, "
              f"zxing-cpp): {exc}", file=sys.stderr)
        return ExitCode.PROBLEMS
    try:
        result = read_document(Path(source), now().date())
    except NothingReadError as exc:
        print(f"error: {source} {exc}", file=sys.stderr)
        return ExitCode.PROBLEMS
    except OSError as exc:
        print(f"error: {source} cannot be read ({exc.strerror or exc})", file=sys.stderr)
        return ExitCode.PROBLEMS
    read = result.read
    if as_json_output:
        printed: dict[str, object] = as_json(read)
        if result.mrz is not None:
            printed["mrz"] = reading_json(result.mrz)
        if result.barcode is not None:
            printed["barcode"] = {"parsed": True, "aamva_version": result.barcode.version,
                                  "issuer": result.barcode.issuer,
                                  "refused": result.barcode.refused}
        print(json.dumps(printed, indent=1), file=out)
    else:
        print(f"read from the {read.what}", file=out)
        for name, value in read.values.items():
            print(f"{LABELS[name]}: {value.value} ({value.vouched.value})", file=out)
    if read.note:
        print(read.note, file=sys.stderr)
    return ExitCode.OK if read.values else ExitCode.PROBLEMS
