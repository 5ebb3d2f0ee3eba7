"""The bundle's Linux trims (tools/bundle_trim.py) on the real libraries of this
environment: ICU's data without what Qt never reads still collates, upper-cases and
names zones as before; the QtQuick/QtQml stubs satisfy the real FFmpeg plugin (where
PySide6-Addons is installed); a patchelf'd library with its hole cut out still loads and
works. Each check loads the library in a separate process (LD_LIBRARY_PATH puts the
trimmed copy first), as the frozen app would."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

import PySide6
import pytest

from tools import bundle_trim

QT_LIB = Path(PySide6.__file__).parent / "Qt" / "lib"
PLUGIN = Path(PySide6.__file__).parent / "Qt" / "plugins" / "multimedia" / \
    "libffmpegmediaplugin.so"
HAS_BINUTILS = all(shutil.which(tool) for tool in ("as", "ld", "nm", "readelf"))

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux bundles only"),
    pytest.mark.skipif(not HAS_BINUTILS, reason="binutils (PyInstaller needs them on Linux)"),
]

ICU_PROBE = r"""
from PySide6.QtCore import QCollator, QLocale, QStringDecoder, QTimeZone
paris = QTimeZone(b"Europe/Paris")
std = QTimeZone.TimeType.StandardTime
english = QCollator(QLocale("en_GB"))
print(sorted(["Zebra", "Äpfel", "apfel", "Bär", "Ørsted", "Øl"], key=english.sortKey))
print(QCollator(QLocale("en")).compare("résumé", "resume") > 0)
print(QLocale("tr_TR").toUpper("istanbul"), QLocale("de").toUpper("straße"))
print(paris.displayName(std, QTimeZone.NameType.LongName, QLocale("en_GB")))
print(QStringDecoder("UTF-8").isValid(), QStringDecoder("Shift_JIS").isValid())
"""


def _run(code: str, library_dir: Path | None) -> str:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    if library_dir is not None:
        env["LD_LIBRARY_PATH"] = str(library_dir)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _icu_data() -> Path:
    found = sorted(QT_LIB.glob("libicudata.so.*"))
    if not found:
        pytest.skip("this PySide6 build uses the system's ICU")
    return max(found, key=lambda path: len(path.name))


def test_the_icu_package_reads_back_item_for_item(tmp_path: Path) -> None:
    library = _icu_data()
    _symbol, offset, size = bundle_trim._dynamic_symbol(library, "_dat")
    with library.open("rb") as handle:
        handle.seek(offset)
        package = bundle_trim.read_icu_package(handle.read(size))
    again = bundle_trim.read_icu_package(bundle_trim.write_icu_package(package))
    assert again.items == package.items and len(package.items) > 3000
    trimmed = bundle_trim.trim_icu_package(package)
    names = trimmed.names()
    prefix = names[0].split("/")[0]
    assert f"{prefix}/coll/root.res" in names and f"{prefix}/ucadata.icu" not in names
    assert f"{prefix}/coll/ucadata.icu" in names and f"{prefix}/zone/en_GB.res" in names
    assert f"{prefix}/cnvalias.icu" in names and f"{prefix}/uts46.nrm" in names
    assert not any("/brkitr/" in name or name.endswith(".cnv") or "/zone/fr" in name
                   for name in names)


def test_the_trimmed_icu_library_gives_qt_the_same_answers(tmp_path: Path) -> None:
    library = _icu_data()
    trimmed = bundle_trim.trimmed_icu_data(library, tmp_path)
    assert trimmed.name == library.name
    assert trimmed.stat().st_size < library.stat().st_size * 0.5
    before = _run(ICU_PROBE, None).splitlines()
    after = _run(ICU_PROBE, tmp_path).splitlines()
    assert after[:4] == before[:4]
    assert after[3] == "Central European Standard Time"
    # Legacy encodings are what it gives up (Qt decodes UTF-8/16/32 and Latin-1 itself).
    assert before[4] == "True True" and after[4] == "True False"


def test_the_stubs_export_what_the_plugin_imports(tmp_path: Path) -> None:
    stubs = bundle_trim.quick_stubs(tmp_path, {"_ZN12QQuickWindow10grabWindowEv"})
    listing = subprocess.run(["nm", "-D", "--defined-only", str(stubs["libQt6Quick.so.6"])],
                             capture_output=True, text=True, check=True).stdout
    assert "_ZN12QQuickWindow16staticMetaObjectE@@Qt_6" in listing
    assert "_ZN12QQuickWindow10grabWindowEv@@Qt_6" in listing
    assert bundle_trim.direct_needs(stubs["libQt6Qml.so.6"]) == []
    with pytest.raises(ValueError, match="more of QtQuick"):
        bundle_trim.quick_stubs(tmp_path, {"_ZN12QQuickWindow6updateEv"})


@pytest.mark.skipif(not PLUGIN.exists(), reason="PySide6-Addons (the bundle extra) not installed")
def test_the_real_ffmpeg_plugin_loads_against_the_stubs(tmp_path: Path) -> None:
    bundle_trim.quick_stubs(tmp_path, bundle_trim.quick_imports(PLUGIN))
    assert "libQt6QmlMeta.so.6" not in bundle_trim.direct_needs(PLUGIN)
    maps = _run(f"import ctypes; ctypes.CDLL({str(PLUGIN)!r}); "
                "print(open('/proc/self/maps').read())", tmp_path)
    assert str(tmp_path / "libQt6Quick.so.6") in maps
    assert str(tmp_path / "libQt6Qml.so.6") in maps
    assert "libQt6QmlModels" not in maps and str(QT_LIB / "libQt6Quick.so.6") not in maps


def test_a_patchelf_hole_is_cut_and_the_library_still_works(tmp_path: Path) -> None:
    import PIL

    found = sorted((Path(PIL.__file__).parents[1] / "pillow.libs").glob("libXau-*.so*"))
    if not found:
        pytest.skip("this Pillow wheel vendors no libXau")
    data = found[0].read_bytes()
    assert bundle_trim.load_gaps(data), "the wheel's libXau has patchelf's 2 MiB hole"
    compact = bundle_trim.without_load_gaps(data)
    assert len(compact) < len(data) // 10
    target = tmp_path / found[0].name
    target.write_bytes(compact)
    xau = ctypes.CDLL(str(target))
    xau.XauFileName.restype = ctypes.c_char_p
    assert xau.XauFileName()  # ~/.Xauthority or $XAUTHORITY: the code runs
    # A library without a hole is left byte for byte.
    core = (QT_LIB / "libQt6Core.so.6").read_bytes()
    assert bundle_trim.without_load_gaps(core) == core
