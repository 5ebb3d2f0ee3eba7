"""Windows' touch keyboard through the input pane's documented COM interfaces, with ctypes
(no comtypes/pywin32 in the bundle for three calls).

- Raise: on Windows 11 (build 22000+) `Windows.UI.ViewManagement.InputPane` for our window
  (`IInputPaneInterop::GetForWindow` → `IInputPane2::TryShow`, the documented way for a
  desktop app). On Windows 10, where TryShow does nothing for a desktop window, the touch
  keyboard's own `ITipInvocation::Toggle` (TabTip's interface; it toggles, so only when the
  pane is not already up), starting TabTip.exe first if it is not running.
- Where it is: `IFrameworkInputPane::Location` (shobjidl_core.h, Windows 8+): the screen
  rectangle it covers, in physical pixels, empty while hidden — turned into Qt's logical
  coordinates here.
- Wanted: a touch digitizer that is ready (`GetSystemMetrics(SM_DIGITIZER)`) and no hardware
  keyboard: the convertible is in slate mode (`SM_CONVERTIBLESLATEMODE` = 0) or no keyboard
  is attached (raw input devices).

Every call runs in the GUI thread, where Qt has initialised COM (single-threaded
apartment); each is an in-process or one short cross-process call. A failure is logged
once and the app goes on without the keyboard (the verifier can still open it from the
taskbar): it is a convenience, never a reason to stop.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
import uuid
from pathlib import Path
from typing import cast

from PySide6.QtCore import QRect
from PySide6.QtGui import QGuiApplication, QWindow

log = logging.getLogger(__name__)

CLSID_FRAMEWORK_INPUT_PANE = "D5120AA3-46BA-44C5-822D-CA8092C1FC72"
IID_FRAMEWORK_INPUT_PANE = "5752238B-24F0-495A-82F1-2FD593056796"
CLSID_UI_HOST_NO_LAUNCH = "4CE576FA-83DC-4F88-951C-9D0782B4E376"
IID_TIP_INVOCATION = "37C994E7-432B-4834-A2F7-DCE1F13B834B"
IID_INPUT_PANE_INTEROP = "75CF2C57-9195-4931-8332-F0B409E916AF"
IID_INPUT_PANE2 = "8A6B3F26-7090-4793-944C-C3F2CDE26276"
INPUT_PANE_CLASS = "Windows.UI.ViewManagement.InputPane"

# Vtable slots: IUnknown 0-2; IInspectable adds 3-5.
RELEASE = 2
TIP_TOGGLE = 3                # ITipInvocation::Toggle(HWND)
FRAMEWORK_LOCATION = 6        # IFrameworkInputPane: Advise, AdviseWithHWND, Unadvise, Location
INTEROP_GET_FOR_WINDOW = 6    # IInputPaneInterop::GetForWindow(HWND, REFIID, void**)
PANE2_TRY_SHOW = 6            # IInputPane2::TryShow(boolean*)
PANE2_TRY_HIDE = 7

CLSCTX_INPROC_SERVER = 0x1
CLSCTX_LOCAL_SERVER = 0x4
SM_DIGITIZER = 94
NID_INTEGRATED_TOUCH = 0x01
NID_EXTERNAL_TOUCH = 0x02
NID_READY = 0x80
SM_CONVERTIBLESLATEMODE = 0x2003
RIM_TYPEKEYBOARD = 1
WINDOWS_11_BUILD = 22000


def to_logical(left: int, top: int, right: int, bottom: int) -> QRect:
    """A rectangle in Windows' physical screen pixels as Qt's logical global rectangle
    (each screen's logical geometry scaled by its device pixel ratio gives its physical
    one; with one screen at the origin that is a division)."""
    if right <= left or bottom <= top:
        return QRect()
    screens = QGuiApplication.screens()
    for screen in screens:
        ratio = screen.devicePixelRatio()
        geometry = screen.geometry()
        origin_x, origin_y = round(geometry.x() * ratio), round(geometry.y() * ratio)
        native = QRect(origin_x, origin_y, round(geometry.width() * ratio),
                       round(geometry.height() * ratio))
        if native.contains(left, top):
            return QRect(geometry.x() + round((left - origin_x) / ratio),
                         geometry.y() + round((top - origin_y) / ratio),
                         round((right - left) / ratio), round((bottom - top) / ratio))
    ratio = screens[0].devicePixelRatio() if screens else 1.0
    return QRect(round(left / ratio), round(top / ratio), round((right - left) / ratio),
                 round((bottom - top) / ratio))


if sys.platform == "win32":
    import ctypes.wintypes

    class _Guid(ctypes.Structure):
        _fields_ = [("data", ctypes.c_ubyte * 16)]

    def _guid(text: str) -> _Guid:
        value = _Guid()
        ctypes.memmove(ctypes.byref(value), uuid.UUID(text).bytes_le, 16)
        return value

    class _RawInputDevice(ctypes.Structure):
        _fields_ = [("device", ctypes.wintypes.HANDLE), ("type", ctypes.wintypes.DWORD)]

    def _call(obj: ctypes.c_void_p, slot: int, argtypes: list[type], *args: object) -> int:
        """Call method `slot` of COM object `obj`; its HRESULT (negative: failed)."""
        table = ctypes.cast(obj, ctypes.POINTER(ctypes.POINTER(ctypes.c_void_p))).contents
        method = ctypes.WINFUNCTYPE(ctypes.c_long, ctypes.c_void_p, *argtypes)(table[slot])
        return int(method(obj, *args))

    def _release(obj: ctypes.c_void_p) -> None:
        if obj.value:
            table = ctypes.cast(obj, ctypes.POINTER(ctypes.POINTER(ctypes.c_void_p))).contents
            ctypes.WINFUNCTYPE(ctypes.c_ulong, ctypes.c_void_p)(table[RELEASE])(obj)

    class WindowsInputPane:
        """`TouchKeyboard` for Windows 10 and 11 (kycdesk.touch.keyboard)."""

        def __init__(self, *, always: bool = False) -> None:
            self._always = always
            self._ole32 = ctypes.WinDLL("ole32")
            self._user32 = ctypes.WinDLL("user32")
            self._user32.GetSystemMetrics.argtypes = [ctypes.c_int]
            self._frame: ctypes.c_void_p | None = None
            self._windows_11 = sys.getwindowsversion().build >= WINDOWS_11_BUILD
            self._complained: set[str] = set()

        # -- wanted -------------------------------------------------------------------
        def wanted(self) -> bool:
            if self._always:
                return True
            digitizer = int(self._user32.GetSystemMetrics(SM_DIGITIZER))
            if not digitizer & NID_READY or not digitizer & (
                    NID_INTEGRATED_TOUCH | NID_EXTERNAL_TOUCH):
                return False
            if int(self._user32.GetSystemMetrics(SM_CONVERTIBLESLATEMODE)) == 0:
                return True  # a convertible with its keyboard folded away or detached
            return self._keyboards() == 0

        def _keyboards(self) -> int:
            count = ctypes.c_uint(0)
            size = ctypes.sizeof(_RawInputDevice)
            if self._user32.GetRawInputDeviceList(None, ctypes.byref(count), size) != 0:
                return 1  # unknown: assume a keyboard (never cover the screen needlessly)
            devices = (_RawInputDevice * max(count.value, 1))()
            got = self._user32.GetRawInputDeviceList(devices, ctypes.byref(count), size)
            if got in (-1, 0xFFFFFFFF):
                return 1
            return sum(1 for device in devices[:got] if device.type == RIM_TYPEKEYBOARD)

        # -- show / hide ----------------------------------------------------------------
        def show(self, window: QWindow) -> None:
            if self._windows_11 and self._input_pane(int(window.winId()), PANE2_TRY_SHOW):
                return
            if self.occluded().isEmpty():
                self._toggle()

        def hide(self) -> None:
            if self.occluded().isEmpty():
                return
            # None when no window of ours has the focus (the stubs do not say so).
            window = cast(QWindow | None, QGuiApplication.focusWindow())
            if self._windows_11 and window is not None and self._input_pane(
                    int(window.winId()), PANE2_TRY_HIDE):
                return
            self._toggle()

        def _input_pane(self, hwnd: int, slot: int) -> bool:
            """IInputPane2::TryShow / TryHide for our window; False if not available."""
            combase = ctypes.WinDLL("combase")
            name = ctypes.c_void_p()
            factory = ctypes.c_void_p()
            pane = ctypes.c_void_p()
            try:
                if combase.WindowsCreateString(INPUT_PANE_CLASS, len(INPUT_PANE_CLASS),
                                               ctypes.byref(name)) < 0:
                    return self._failed("WindowsCreateString")
                interop = _guid(IID_INPUT_PANE_INTEROP)
                if combase.RoGetActivationFactory(name, ctypes.byref(interop),
                                                  ctypes.byref(factory)) < 0:
                    return self._failed("RoGetActivationFactory(InputPane)")
                wanted = _guid(IID_INPUT_PANE2)
                if _call(factory, INTEROP_GET_FOR_WINDOW,
                         [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p],
                         ctypes.c_void_p(hwnd), ctypes.byref(wanted),
                         ctypes.byref(pane)) < 0:
                    return self._failed("IInputPaneInterop::GetForWindow")
                done = ctypes.c_ubyte(0)
                if _call(pane, slot, [ctypes.c_void_p], ctypes.byref(done)) < 0:
                    return self._failed("IInputPane2::TryShow/TryHide")
                return bool(done.value)
            finally:
                _release(pane)
                _release(factory)
                if name.value:
                    combase.WindowsDeleteString(name)

        def _toggle(self) -> None:
            """ITipInvocation::Toggle (Windows 10's touch keyboard, TabTip)."""
            tip = ctypes.c_void_p()
            clsid, iid = _guid(CLSID_UI_HOST_NO_LAUNCH), _guid(IID_TIP_INVOCATION)
            made = self._ole32.CoCreateInstance(
                ctypes.byref(clsid), None, CLSCTX_INPROC_SERVER | CLSCTX_LOCAL_SERVER,
                ctypes.byref(iid), ctypes.byref(tip))
            if made < 0:
                # TabTip is not running: starting it brings the keyboard up by itself.
                tabtip = Path(os.environ.get("COMMONPROGRAMW6432")
                              or os.environ.get("COMMONPROGRAMFILES", "")) \
                    / "microsoft shared" / "ink" / "TabTip.exe"
                try:
                    os.startfile(tabtip)
                except OSError:
                    self._failed("TabTip.exe")
                return
            try:
                _call(tip, TIP_TOGGLE, [ctypes.c_void_p],
                      ctypes.c_void_p(self._user32.GetDesktopWindow()))
            finally:
                _release(tip)

        # -- where ------------------------------------------------------------------------
        def occluded(self) -> QRect:
            frame = self._frame_pane()
            if frame is None:
                return QRect()
            rect = ctypes.wintypes.RECT()
            if _call(frame, FRAMEWORK_LOCATION, [ctypes.c_void_p], ctypes.byref(rect)) < 0:
                self._failed("IFrameworkInputPane::Location")
                return QRect()
            return to_logical(rect.left, rect.top, rect.right, rect.bottom)

        def _frame_pane(self) -> ctypes.c_void_p | None:
            if self._frame is None:
                frame = ctypes.c_void_p()
                clsid, iid = _guid(CLSID_FRAMEWORK_INPUT_PANE), _guid(IID_FRAMEWORK_INPUT_PANE)
                if self._ole32.CoCreateInstance(ctypes.byref(clsid), None,
                                                CLSCTX_INPROC_SERVER, ctypes.byref(iid),
                                                ctypes.byref(frame)) < 0:
                    self._failed("IFrameworkInputPane")
                    return None
                self._frame = frame
            return self._frame

        def _failed(self, what: str) -> bool:
            if what not in self._complained:
                self._complained.add(what)
                log.warning("touch keyboard: %s is not available on this Windows", what)
            return False
