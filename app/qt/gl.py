"""Is a real OpenGL 3-D view possible here?  Checked once, without ever crashing.

The software-drawn cube is the default; the OpenGL cube is an upgrade when the optional
PyOpenGL is installed (``pip install 'latent-explorer[gl]'``).  Without PyOpenGL the software
cube is shown without a note; when PyOpenGL is there but OpenGL cannot run (the offscreen
and minimal platforms, no context), the view says why under the software cube.
"""
from __future__ import annotations

import functools
import os

NO_GL_PLATFORMS = ("offscreen", "minimal", "vnc", "linuxfb")
# the software cube is the default view; OpenGL is an upgrade that needs the optional PyOpenGL
UPGRADE = "For the OpenGL cube (smoother turning), install PyOpenGL: pip install 'latent-explorer[gl]'."


def note_for(problem: str | None) -> str:
    """What the 3-D view says under the software cube: nothing when only the optional
    PyOpenGL is missing (that is the default view), else why OpenGL is not used."""
    return "" if problem in (None, UPGRADE) else f"{problem} Showing a software rendering instead."


@functools.lru_cache(maxsize=1)
def gl_problem() -> str | None:
    """None when the 3-D view can be created, else a sentence saying why not."""
    if os.environ.get("LATENT_EXPLORER_NO_GL"):
        return "The 3-D view is switched off (LATENT_EXPLORER_NO_GL is set)."
    from PySide6.QtGui import QGuiApplication, QOpenGLContext

    try:  # first: without the optional PyOpenGL the software cube is the quiet default, whatever the platform
        import OpenGL.GL  # noqa: F401  (only: can it be imported?)
        import pyqtgraph.opengl  # noqa: F401
    except ModuleNotFoundError as exc:
        if exc.name == "OpenGL" or exc.name == "OpenGL.GL":
            return UPGRADE  # the optional package is not installed: the software cube, quietly
        return f"The OpenGL 3-D view cannot start: {type(exc).__name__}: {exc}"
    except Exception as exc:  # a broken GL library underneath
        return f"The OpenGL 3-D view cannot start: {type(exc).__name__}: {exc}"
    platform = QGuiApplication.platformName()
    if platform in NO_GL_PLATFORMS:
        return f"The 3-D view needs OpenGL, which the '{platform}' display platform does not offer."
    ctx = QOpenGLContext()
    if not ctx.create():
        return "The 3-D view needs OpenGL, but no OpenGL context could be created on this display."
    return None
