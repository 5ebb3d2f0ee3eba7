"""What the LGPL-3.0 asks of a program that ships Qt and Qt for Python, said to the person
who received kycdesk: which parts are LGPL, how to replace them (the bundle is one-dir:
the Qt libraries are separate shared libraries, loaded by name, never linked statically),
where the source is, and the written offer for it."""

from __future__ import annotations

import textwrap

# Who answers the written offer. One place, so the publisher's legal contact goes here
# (and only here) before the first release to a customer.
SOURCE_OFFER_CONTACT = "the kycdesk publisher's licensing contact (licensing@kycdesk.example)"
OFFER_YEARS = 3
QT_NAMES = ("PySide6", "PySide6-Essentials", "PySide6-Addons", "shiboken6")


def is_qt(name: str) -> bool:
    from kycdesk.notices.packages import normalise

    return normalise(name) in {normalise(n) for n in QT_NAMES}


def qt_section(qt_version: str, packages: list[str]) -> str:
    """The LGPL section of the notices (`qt_version` is PySide6's: its wheels carry the Qt
    release of the same number)."""
    major_minor = ".".join(qt_version.split(".")[:2])
    offer = textwrap.fill(
        f"Written offer: for at least {OFFER_YEARS} years from the day you received this "
        "copy of kycdesk (and for as long as the publisher supports this version), anyone "
        f"who has it may ask {SOURCE_OFFER_CONTACT} for the complete corresponding source "
        "code of the Qt and Qt for Python libraries in it, with the changes made to them "
        "(none: the published wheels are shipped as built by The Qt Company) and the "
        "scripts used to build this bundle; it is sent on a medium customarily used for "
        "software interchange for no more than the cost of making and sending the copy.", 78)
    return f"""\
Qt {qt_version} and Qt for Python ({", ".join(packages)}) are used under the GNU Lesser
General Public License version 3 (LGPL-3.0; its text and the GPL-3.0 it builds on are in
this file under those packages). The Qt Company also offers them under the GPL and under
a commercial licence; kycdesk takes the LGPL-3.0.

Your rights under the LGPL-3.0:
- Replace the Qt libraries. kycdesk is delivered as a folder ("one-dir"), never as a
  single self-extracting file: the Qt libraries and the Qt for Python bindings are
  separate shared libraries, loaded by name when kycdesk starts, never linked statically:
    Windows:  _internal\\PySide6\\Qt6*.dll, _internal\\PySide6\\*.pyd,
              _internal\\shiboken6\\shiboken6*.dll and the plugins under _internal\\PySide6\\plugins
    Linux:    _internal/PySide6/Qt/lib/libQt6*.so.6, _internal/PySide6/*.abi3.so,
              _internal/libpyside6*.so, _internal/libshiboken6*.so, _internal/PySide6/Qt/plugins
  Build your own from the source below (same major and minor version, {major_minor}) and put
  them in place of these files; kycdesk then runs with yours.
- Modify them for your own use and reverse-engineer kycdesk to debug such modifications:
  kycdesk's licence (Apache-2.0) does not forbid either, and nothing in this product may
  be read as forbidding them.

Source code:
- Qt {qt_version}: https://download.qt.io/official_releases/qt/{major_minor}/{qt_version}/src/single/
  (also https://code.qt.io/, tag v{qt_version})
- Qt for Python {qt_version}: https://download.qt.io/official_releases/QtForPython/pyside6/
  (PySide6-{qt_version}-src;
  also https://code.qt.io/cgit/pyside/pyside-setup.git, tag v{qt_version})
- The third-party code inside Qt (ICU, FreeType, HarfBuzz, libpng, libjpeg, PCRE2, zlib,
  double-conversion and others) and each one's licence: listed by Qt at
  https://doc.qt.io/qt-{major_minor.split(".")[0]}/licenses-used-in-qt.html and in the source above.

{offer}
"""
