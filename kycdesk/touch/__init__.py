"""The on-screen (touch) keyboard: raise it when a text field takes the focus on a touch
tablet with no hardware keyboard, and keep the field above it (issue 20, item 5).

- `keyboard.py`: the `TouchKeyboard` interface, the no-op one used off Windows, and the
  choice of implementation for this machine (`system_keyboard`);
- `windows.py`: Windows' input pane through its documented COM interfaces (ctypes only);
- `avoider.py`: `KeyboardAvoider`, the application-wide focus hook that asks for the
  keyboard and scrolls the focused field into the part of its page the keyboard leaves.

Imports only Qt and the standard library (nothing of kycdesk's layers: the app installs it,
views know nothing of it)."""
