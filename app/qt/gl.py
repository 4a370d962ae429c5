"""Is a real OpenGL 3-D view possible here?  Checked once, without ever crashing.

The offscreen and minimal platforms have no OpenGL, and pyqtgraph's 3-D items need
PyOpenGL; in those cases the app says why and shows the cube as slices only.
"""
from __future__ import annotations

import functools
import os

NO_GL_PLATFORMS = ("offscreen", "minimal", "vnc", "linuxfb")


@functools.lru_cache(maxsize=1)
def gl_problem() -> str | None:
    """None when the 3-D view can be created, else a sentence saying why not."""
    if os.environ.get("LATENT_EXPLORER_NO_GL"):
        return "The 3-D view is switched off (LATENT_EXPLORER_NO_GL is set)."
    from PySide6.QtGui import QGuiApplication, QOpenGLContext

    platform = QGuiApplication.platformName()
    if platform in NO_GL_PLATFORMS:
        return f"The 3-D view needs OpenGL, which the '{platform}' display platform does not offer."
    try:
        import OpenGL.GL  # noqa: F401  (only: can it be imported?)
        import pyqtgraph.opengl  # noqa: F401
    except Exception as exc:  # ImportError, or a broken GL library underneath
        return f"The 3-D view needs PyOpenGL (pip install PyOpenGL): {type(exc).__name__}: {exc}"
    ctx = QOpenGLContext()
    if not ctx.create():
        return "The 3-D view needs OpenGL, but no OpenGL context could be created on this display."
    return None
