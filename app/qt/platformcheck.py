"""Before Qt starts on Linux/X11: are the system libraries of Qt's xcb platform plugin
there?  Without them Qt aborts with "could not load the Qt platform plugin xcb"; this names
the missing libraries and the packages that provide them instead."""
from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

# soname -> Debian/Ubuntu package (the README's apt-get line installs all of them)
PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0", "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0", "libxcb-xkb.so.1": "libxcb-xkb1", "libxcb-util.so.1": "libxcb-util1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0", "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1", "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3", "libX11-xcb.so.1": "libx11-xcb1",
}
APT_LINE = "sudo apt-get install " + " ".join(sorted(set(PACKAGES.values())))


def uses_xcb() -> bool:
    """Will Qt pick the X11 (xcb) platform plugin?"""
    if not sys.platform.startswith("linux"):
        return False
    chosen = os.environ.get("QT_QPA_PLATFORM", "")
    if chosen:
        return chosen.split(":")[0].split(";")[0] == "xcb"
    return bool(os.environ.get("DISPLAY")) and not os.environ.get("WAYLAND_DISPLAY")


def xcb_plugin() -> Path | None:
    import PySide6

    path = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    return path if path.is_file() else None


def missing_libraries(plugin: Path | None = None, sonames=None) -> list[str]:
    """Sonames the xcb plugin needs that cannot be loaded (``ldd`` on the plugin when there
    is one, else an attempt to load each library Qt 6 needs)."""
    plugin = plugin or xcb_plugin()
    if plugin is not None and shutil.which("ldd") and sonames is None:
        try:
            out = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            out = None
        if out is not None:
            return sorted({line.split("=>")[0].strip() for line in out.splitlines() if "not found" in line})
    missing = []
    for name in sonames or PACKAGES:
        try:
            ctypes.CDLL(name)
        except OSError:
            missing.append(name)
    return missing


def message(missing: list[str]) -> str:
    packages = sorted({PACKAGES.get(m, m) for m in missing})
    return (f"Qt's X11 platform plugin (xcb) cannot start: missing system libraries {', '.join(missing)}. "
            f"On Debian/Ubuntu install them with: sudo apt-get install {' '.join(packages)} "
            f"(all that Qt needs: {APT_LINE}); on Fedora: sudo dnf install xcb-util-cursor xcb-util-wm "
            f"xcb-util-keysyms xcb-util-image xcb-util-renderutil libxkbcommon-x11. "
            f"The command line (render, export, ...) works without them.")


NO_DISPLAY = ("no display was found (DISPLAY and WAYLAND_DISPLAY are not set), so the window cannot open. "
              "Run latent-explorer on a desktop session with a display (over ssh: ssh -X, or a remote "
              "desktop); for scripts and tests without a screen set QT_QPA_PLATFORM=offscreen; everything the "
              "window does is also in the command line: latent-explorer --help.")


def no_display() -> bool:
    """Linux with neither an X11 nor a Wayland display, and Qt left to pick (or told xcb/wayland)."""
    if not sys.platform.startswith("linux") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return False
    chosen = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].split(";")[0]
    return chosen in ("", "xcb", "wayland")


def check() -> None:
    """Raise RuntimeError saying what to do when there is no display, or naming the missing
    packages when Qt's xcb plugin could not load."""
    if no_display():
        raise RuntimeError(NO_DISPLAY)
    if uses_xcb():
        missing = missing_libraries()
        if missing:
            raise RuntimeError(message(missing))
