"""Two Linux-only trims kycdesk.spec applies so the camera fits the 200 MB bundle
(measured in docs/benchmarks.md, "Camera in the bundle"):

- **ICU data** (libicudata.so.73, 32 MB, linked by QtCore): Qt uses ICU for collation
  (QCollator, locale-aware sorting), locale-aware case mapping, time-zone display names and
  legacy text encodings. The data also carries what Qt never asks ICU for: break-iterator
  dictionaries, transliterators, spell-out rules, the display names of languages,
  regions, currencies and units in ~800 locales, character names and 190 legacy
  converters (Qt decodes UTF-8/16/32 and Latin-1 itself); collation tailorings and
  time-zone names are kept for English only (ICU falls back to its root data: Unicode's
  collation order, "GMT+01:00"). Those items are dropped from ICU's common-data package
  and the rest is relinked under the same name and symbol.
- **libQt6Quick.so.6 and libQt6Qml.so.6** (8.3 + 6.8 MB, and through them QtQmlModels,
  QtQmlMeta, QtQmlWorkerScript: 1.5 MB more): the FFmpeg multimedia plugin links QtQuick
  only for screen capture of a QML window — two symbols, `QQuickWindow::staticMetaObject`
  (for a qobject_cast, which only compares addresses) and `QQuickWindow::grabWindow()` —
  and names QtQml without using it. The app has no QML window, so stub libraries stand
  in: QtQuick's defines those two (the function traps if ever called), QtQml's nothing.

Both are built with binutils' `as` and `ld`, which PyInstaller already needs on Linux
(`strip`, `objdump`). The data package format is ICU's "common data" (udatamem.h /
ucmndata.h): a header, a table of contents (count, then name and data offsets from the
table's start, sorted by name), the names, then the items, each 16-byte aligned.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# Item paths inside the package (after "icudt73l/") that Qt never asks ICU for.
ICU_DROPPED_TREES = ("brkitr/", "translit/", "rbnf/", "lang/", "region/", "curr/", "unit/")
ICU_DROPPED_SUFFIXES = (".cnv", ".spp", ".cfu")
ICU_DROPPED_FILES = ("unames.icu",)
_ALIGN = 16


@dataclass(frozen=True)
class IcuPackage:
    header: bytes
    items: list[tuple[str, bytes]]

    def names(self) -> list[str]:
        return [name for name, _data in self.items]


def read_icu_package(blob: bytes) -> IcuPackage:
    header_size = struct.unpack_from("<H", blob, 0)[0]
    if blob[2:4] != b"\xda\x27" or blob[12:16] != b"CmnD":
        raise ValueError("not an ICU common-data package (little-endian CmnD expected)")
    toc = header_size
    count = struct.unpack_from("<I", blob, toc)[0]
    entries = [struct.unpack_from("<II", blob, toc + 4 + 8 * i) for i in range(count)]
    items = []
    for index, (name_offset, data_offset) in enumerate(entries):
        end = entries[index + 1][1] if index + 1 < count else len(blob) - toc
        name_end = blob.index(b"\0", toc + name_offset)
        name = blob[toc + name_offset:name_end].decode("ascii")
        items.append((name, blob[toc + data_offset:toc + end]))
    return IcuPackage(blob[:header_size], items)


def write_icu_package(package: IcuPackage) -> bytes:
    count = len(package.items)
    names = b"".join(name.encode("ascii") + b"\0" for name, _ in package.items)
    names_start = 4 + 8 * count
    data_start = _aligned(names_start + len(names))
    toc = bytearray(struct.pack("<I", count))
    body = bytearray()
    name_offset = names_start
    for name, data in package.items:
        toc += struct.pack("<II", name_offset, data_start + len(body))
        name_offset += len(name) + 1
        body += data + b"\0" * (_aligned(len(data)) - len(data))
    toc += names
    toc += b"\0" * (data_start - len(toc))
    return package.header + bytes(toc) + bytes(body)


def _aligned(size: int) -> int:
    return (size + _ALIGN - 1) // _ALIGN * _ALIGN


# Trees kept for English only (the app's language; others fall back to ICU's root):
# collation tailorings (QCollator; the app sorts nothing locale-aware, the root order is
# Unicode's) and time-zone display names (the app shows no zone names).
ICU_ENGLISH_ONLY_TREES = ("coll/", "zone/")
ICU_SHARED_ITEMS = ("root.res", "pool.res", "res_index.res", "ucadata.icu", "tzdbNames.res")


def icu_item_wanted(name: str) -> bool:
    item = name.split("/", 1)[1] if "/" in name else name
    if item.startswith(ICU_DROPPED_TREES) or item.endswith(ICU_DROPPED_SUFFIXES) \
            or item in ICU_DROPPED_FILES:
        return False
    if item.startswith(ICU_ENGLISH_ONLY_TREES):
        leaf = item.split("/", 1)[1]
        return leaf in ICU_SHARED_ITEMS or leaf == "en.res" or leaf.startswith("en_")
    return True


def trim_icu_package(package: IcuPackage) -> IcuPackage:
    return IcuPackage(package.header,
                      [(name, data) for name, data in package.items if icu_item_wanted(name)])


def direct_needs(library: Path) -> list[str]:
    """The libraries `library` itself names (its DT_NEEDED entries). PyInstaller's
    get_imports on Linux runs `ldd`, which lists the whole closure as the ORIGINAL files
    resolve it: a library replaced by a stub, or left to the system, still pulled in
    everything the original needed."""
    dynamic = subprocess.run(["readelf", "-d", "-W", str(library)], capture_output=True,
                             text=True, check=False).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in dynamic.splitlines()
            if "(NEEDED)" in line and "[" in line]


def _dynamic_symbol(library: Path, suffix: str) -> tuple[str, int, int]:
    """(name, file offset, size) of the one dynamic symbol whose name ends with `suffix`."""
    listing = subprocess.run(["nm", "-D", "-S", "--defined-only", str(library)],
                             capture_output=True, text=True, check=True).stdout
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[3].endswith(suffix):
            address, size = int(parts[0], 16), int(parts[1], 16)
            return parts[3], _file_offset(library, address), size
    raise ValueError(f"{library.name} defines no symbol *{suffix}")


def _file_offset(library: Path, address: int) -> int:
    segments = subprocess.run(["readelf", "-l", "-W", str(library)], capture_output=True,
                              text=True, check=True).stdout
    for line in segments.splitlines():
        parts = line.split()
        if parts and parts[0] == "LOAD":
            offset, vaddr, filesz = int(parts[1], 16), int(parts[2], 16), int(parts[4], 16)
            if vaddr <= address < vaddr + filesz:
                return address - vaddr + offset
    raise ValueError(f"address {address:#x} is in no loaded segment of {library.name}")


def trimmed_icu_data(library: Path, out_dir: Path) -> Path:
    """A copy of libicudata.so.NN holding only the items Qt can ask for."""
    symbol, offset, size = _dynamic_symbol(library, "_dat")
    with library.open("rb") as handle:
        handle.seek(offset)
        package = read_icu_package(handle.read(size))
    data = out_dir / "icudata-trimmed.dat"
    data.write_bytes(write_icu_package(trim_icu_package(package)))
    assembly = (f'.section .rodata\n.globl {symbol}\n.type {symbol}, @object\n'
                f'.balign 16\n{symbol}:\n.incbin "{data}"\n.size {symbol}, . - {symbol}\n'
                '.section .note.GNU-stack,"",@progbits\n')
    return _shared_object(out_dir / library.name, assembly, version_script=None)


# What the FFmpeg plugin imports from QtQuick and QtQml (nm -D --undefined-only), per
# library it links; checked at build time so a new Qt that needs more fails the build
# instead of the camera. It links QtQml without using a symbol of it (a NEEDED entry
# only): an empty library of that name satisfies the loader.
STUBS: dict[str, dict[str, str]] = {
    "libQt6Quick.so.6": {"_ZN12QQuickWindow16staticMetaObjectE": "object",
                         "_ZN12QQuickWindow10grabWindowEv": "function"},
    "libQt6Qml.so.6": {},
}


def quick_imports(plugin: Path) -> set[str]:
    listing = subprocess.run(["nm", "-D", "--undefined-only", str(plugin)],
                             capture_output=True, text=True, check=True).stdout
    return {line.split()[-1].split("@")[0] for line in listing.splitlines()
            if "QQuick" in line or "QQml" in line or "QJS" in line}


def quick_stubs(out_dir: Path, needed: Iterable[str]) -> dict[str, Path]:
    """Stand-ins for QtQuick and QtQml defining only the symbols in STUBS (the ones
    `needed` by the plugin must all be there)."""
    known = {name for symbols in STUBS.values() for name in symbols}
    unknown = set(needed) - known
    if unknown:
        raise ValueError(f"the multimedia plugin needs more of QtQuick/QtQml than the stubs "
                         f"have: {sorted(unknown)}; ship the real libraries or extend STUBS")
    return {soname: stub_library(out_dir, soname, symbols)
            for soname, symbols in STUBS.items()}


def stub_library(out_dir: Path, soname: str, symbols: dict[str, str]) -> Path:
    """A shared library `soname` defining `symbols` (name -> "function" | "object") in Qt's
    symbol version Qt_6."""
    lines = []
    for name, kind in symbols.items():
        if kind == "function":  # never called: the cast before it finds no QQuickWindow
            lines += [".text", f".globl {name}", f".type {name}, @function", f"{name}:",
                      "ud2", f".size {name}, . - {name}"]
        else:  # a QMetaObject's size on 64-bit: only its address is compared
            lines += [".section .rodata", ".balign 16", f".globl {name}",
                      f".type {name}, @object", f"{name}:", ".zero 48",
                      f".size {name}, 48"]
    lines.append('.section .note.GNU-stack,"",@progbits')
    exported = "".join(f"    {name};\n" for name in symbols)
    version_script = ("Qt_6 {\n  global:\n" + exported + "  local: *;\n};\n") if symbols \
        else "Qt_6 { local: *; };\n"
    return _shared_object(out_dir / soname, "\n".join(lines) + "\n",
                          version_script=version_script)


def _shared_object(target: Path, assembly: str, *, version_script: str | None) -> Path:
    for tool in ("as", "ld"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"binutils' `{tool}` is needed to build {target.name}")
    with tempfile.TemporaryDirectory(prefix="kycdesk-trim-") as tmp:
        source, obj = Path(tmp) / "lib.s", Path(tmp) / "lib.o"
        source.write_text(assembly, encoding="ascii")
        subprocess.run(["as", "--64", "-o", str(obj), str(source)], check=True)
        command = ["ld", "-shared", "-z", "noexecstack", "-soname", target.name,
                   "-o", str(target), str(obj)]
        if version_script is not None:
            script = Path(tmp) / "versions.map"
            script.write_text(version_script, encoding="ascii")
            command[1:1] = ["--version-script", str(script)]
        subprocess.run(command, check=True)
    return target


# -- holes in patched libraries ------------------------------------------------------
_PAGE = 0x1000
_PT_LOAD = 1


def load_gaps(data: bytes) -> list[tuple[int, int]]:
    """Page-aligned runs of the file between two loaded segments that belong to nothing
    (no segment, section or header table): what patchelf leaves when it appends a
    segment at the next 2 MiB boundary (auditwheel's wheels: Pillow's libXau is 2.1 MB of
    which 14 KB is the library)."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return []  # ELF64 little-endian only (x86-64 Linux bundles)
    phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 0x36)
    used = [(0, 0x40), (phoff, phoff + phentsize * phnum), (shoff, shoff + shentsize * shnum)]
    loads = []
    for index in range(phnum):
        p_type, _flags, offset, _vaddr, _paddr, filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + index * phentsize)
        used.append((offset, offset + filesz))
        if p_type == _PT_LOAD:
            loads.append((offset, offset + filesz))
    for index in range(shnum):
        sh_type, = struct.unpack_from("<I", data, shoff + index * shentsize + 4)
        offset, size = struct.unpack_from("<QQ", data, shoff + index * shentsize + 0x18)
        if sh_type != 8:  # SHT_NOBITS takes no room in the file
            used.append((offset, offset + size))
    gaps = []
    loads.sort()
    for next_start, _next_end in loads[1:]:
        cut_end = next_start // _PAGE * _PAGE
        # Everything placed before the next segment (non-loaded sections such as
        # .gnu_debuglink sit there too) stays; only what follows the last of it goes.
        before = [hi for lo, hi in used if hi > lo and lo < cut_end]
        cut_start = _aligned_to(max(before, default=0), _PAGE)
        # Bytes nothing names (patchelf's leftovers) are kept too: only zeros go.
        leftover = len(data[cut_start:cut_end].rstrip(b"\0"))
        cut_start = _aligned_to(cut_start + leftover, _PAGE)
        if cut_end - cut_start >= _PAGE:
            gaps.append((cut_start, cut_end))
    return gaps


def _aligned_to(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


def without_load_gaps(data: bytes) -> bytes:
    """`data` with its `load_gaps` cut out: every file offset past a cut (segments,
    sections, the section table) moves down by whole pages, so each segment keeps its
    address-offset congruence modulo the page size; a segment whose larger alignment no
    longer holds gets the page size as its alignment (what the loader checks)."""
    gaps = load_gaps(data)
    if not gaps:
        return data

    def moved(offset: int) -> int:
        return offset - sum(end - start for start, end in gaps if offset >= end)

    out = bytearray()
    position = 0
    for start, end in gaps:
        out += data[position:start]
        position = end
    out += data[position:]
    phoff, shoff = struct.unpack_from("<QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum = struct.unpack_from("<HHHH", data, 0x36)
    new_phoff, new_shoff = moved(phoff), moved(shoff)
    struct.pack_into("<QQ", out, 0x20, new_phoff, new_shoff)
    for index in range(phnum):
        at = new_phoff + index * phentsize
        offset, vaddr = struct.unpack_from("<QQ", out, at + 8)
        align, = struct.unpack_from("<Q", out, at + 48)
        offset = moved(offset)
        struct.pack_into("<Q", out, at + 8, offset)
        if align > _PAGE and (vaddr - offset) % align:
            struct.pack_into("<Q", out, at + 48, _PAGE)
    for index in range(shnum):
        at = new_shoff + index * shentsize + 0x18
        offset, = struct.unpack_from("<Q", out, at)
        struct.pack_into("<Q", out, at, moved(offset))
    return bytes(out)


def has_symbol_table(library: Path) -> bool:
    """Whether `strip` would remove anything (a library shipped stripped is copied as
    it is: strip rewrites the layout of patchelf'd libraries and breaks them —
    FFmpeg's in PySide6-Addons, numpy's and Pillow's vendored ones)."""
    sections = subprocess.run(["readelf", "-S", "-W", str(library)], capture_output=True,
                              text=True, check=False).stdout
    return " .symtab " in sections
