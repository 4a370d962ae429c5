"""What a first launch meets on a plain machine: Qt's X11 plugin without its system
libraries, and no PyOpenGL (the software cube, quietly)."""
from __future__ import annotations

import os
import subprocess
import sys

from latent_explorer.app.qt.gl import UPGRADE, note_for
from latent_explorer.app.qt.platformcheck import APT_LINE, PACKAGES, message, missing_libraries, uses_xcb


def test_missing_libraries_are_found_by_loading_them():
    assert missing_libraries(sonames=["libc.so.6", "libxcb-not-a-real-one.so.7"]) == ["libxcb-not-a-real-one.so.7"]


def test_the_message_names_the_packages_and_the_readme_lists_them_all():
    text = message(["libxcb-cursor.so.0", "libxcb-icccm.so.4"])
    assert "apt-get install libxcb-cursor0 libxcb-icccm4" in text and "libxcb-cursor.so.0" in text
    readme = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    for package in set(PACKAGES.values()):
        assert package in readme, f"the README does not name {package}"
    assert APT_LINE.split("install ")[1] in readme.replace("\\\n", "").replace("  ", " ")


def test_xcb_is_chosen_only_on_x11(monkeypatch):
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert not uses_xcb()
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert uses_xcb() == sys.platform.startswith("linux")


def test_the_app_names_the_missing_packages_instead_of_aborting():
    """On this machine as it is: when the xcb plugin's libraries are missing, the app's
    error names them (exit 1, no Qt abort); when they are all there, the check is silent."""
    missing = missing_libraries()
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", DISPLAY=":987")  # no X server there
    r = subprocess.run([sys.executable, "-m", "latent_explorer.app"], capture_output=True, text=True, env=env,
                       timeout=120)
    if missing:
        assert r.returncode == 1 and "cannot start: missing system libraries" in r.stderr
        assert all(PACKAGES.get(m, m) in r.stderr for m in missing)
    else:
        assert "missing system libraries" not in r.stderr and r.returncode != 0  # Qt: no display :987


def test_without_pyopengl_the_software_cube_has_no_note():
    assert note_for(UPGRADE) == "" and note_for(None) == ""
    assert "software" in note_for("The 3-D view needs OpenGL, which the 'offscreen' display platform does not offer.")


def test_no_display_says_so_and_what_to_do_instead_of_aborting():
    """No DISPLAY, no WAYLAND_DISPLAY, Qt left to choose: a sentence and exit 1, never Qt's abort (134)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    r = subprocess.run([sys.executable, "-m", "latent_explorer.app"], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 1, (r.returncode, r.stderr[-2000:])
    assert "no display was found" in r.stderr and "QT_QPA_PLATFORM=offscreen" in r.stderr
    assert "could not load the Qt platform plugin" not in r.stderr
