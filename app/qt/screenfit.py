"""Keep the window on its screen: it never grows past the screen's available area, docks
scroll instead of pushing the window wider, a dock that is opened comes to the front,
and an opened dock takes a share of the window that leaves the point's controls and the
maps their room."""
from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QFrame, QMainWindow, QScrollArea

DEFAULT_SIZE = QSize(1500, 920)   # the window's size on a first start, when the screen has room
SIDE_SHARE = 0.42                 # at most this share of the window's width for the right docks
BOTTOM_SHARE = 0.36               # ... and of its height for the bottom docks
BOTTOM_SHARE_SHORT = 0.30         # on screens under 900 px high


def available(window: QMainWindow) -> QRect:
    """The available area (without task bars) of the screen the window is on."""
    screen = window.screen()
    return screen.availableGeometry() if screen is not None else QRect(0, 0, DEFAULT_SIZE.width(), DEFAULT_SIZE.height())


def frame_extra(window: QMainWindow) -> QSize:
    """What the window manager's frame adds around the window."""
    f, g = window.frameGeometry(), window.geometry()
    return QSize(max(0, f.width() - g.width()), max(0, f.height() - g.height()))


def fit(window: QMainWindow) -> None:
    """Shrink and move the window until its frame lies inside the available area (never grows it)."""
    if window.isMaximized() or window.isFullScreen():
        return
    area, extra = available(window), frame_extra(window)
    width = min(window.width(), area.width() - extra.width())
    height = min(window.height(), area.height() - extra.height())
    if (width, height) != (window.width(), window.height()):
        window.resize(width, height)
    frame = window.frameGeometry()
    x = min(max(frame.x(), area.left()), area.right() + 1 - frame.width())
    y = min(max(frame.y(), area.top()), area.bottom() + 1 - frame.height())
    if (x, y) != (frame.x(), frame.y()):
        window.move(x, y)


def first_size(window: QMainWindow) -> QSize:
    """The default size, or less on a smaller screen."""
    area, extra = available(window), frame_extra(window)
    return QSize(min(DEFAULT_SIZE.width(), area.width() - max(extra.width(), 2)),
                 min(DEFAULT_SIZE.height(), area.height() - max(extra.height(), 30)))


def scrollable(dock: QDockWidget) -> None:
    """Put the dock's contents in a scroll area, so a dock never forces the window wider or
    taller than the screen (a dock that already scrolls is left as it is)."""
    inner = dock.widget()
    if inner is None or isinstance(inner, QScrollArea):
        return
    scroll = QScrollArea()
    scroll.setObjectName(f"{dock.objectName()}_scroll")
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setWidgetResizable(True)
    scroll.setWidget(inner)
    dock.setWidget(scroll)


def _share(window: QMainWindow, dock: QDockWidget) -> None:
    """Give a dock that was just opened a share of the window."""
    if dock.isFloating() or not dock.isVisible():
        return
    inner = dock.widget().widget() if isinstance(dock.widget(), QScrollArea) else dock.widget()
    want = inner.sizeHint() if inner is not None else dock.sizeHint()
    side = window.dockWidgetArea(dock) in (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea)
    if side:
        size = min(want.width() + 20, int(window.width() * SIDE_SHARE))
        window.resizeDocks([dock], [max(size, 200)], Qt.Orientation.Horizontal)
    else:
        share = BOTTOM_SHARE_SHORT if available(window).height() < 900 else BOTTOM_SHARE
        size = min(want.height() + 10, int(window.height() * share))
        window.resizeDocks([dock], [max(size, 120)], Qt.Orientation.Vertical)


def behind_tab(window: QMainWindow, dock: QDockWidget) -> bool:
    """Open, docked, but covered by another dock of its tab group."""
    return (not dock.isHidden() and not dock.isFloating() and bool(window.tabifiedDockWidgets(dock))
            and (not dock.isVisible() or dock.visibleRegion().isEmpty()))


def install(window: QMainWindow) -> None:
    """Make every dock of ``window`` scrollable, bring a dock to the front when it is opened
    from the View menu or its shortcut (a dock covered by another's tab is raised, not
    hidden: only a dock on top is hidden by its toggle), and fit the window to its screen after every change."""
    from .wheelguard import install as install_wheel_guard

    install_wheel_guard(window)

    def later_fit() -> None:
        QTimer.singleShot(0, lambda: fit(window))

    for dock in window.findChildren(QDockWidget):
        scrollable(dock)
        dock.setMinimumSize(0, 0)
        raise_instead = {dock: False}

        def toggled(checked: bool, dock=dock, note=raise_instead) -> None:
            # the action flips before the dock hides: is it open but covered by a tab?
            note[dock] = not checked and behind_tab(window, dock)

        def opened(checked: bool, dock=dock, note=raise_instead) -> None:
            if not checked and note[dock]:  # its shortcut or menu entry raises a covered dock
                note[dock] = False
                checked = True
            if checked:
                dock.show()
                dock.raise_()  # a dock tabbed with another comes to the front
                QTimer.singleShot(0, lambda: (_share(window, dock), fit(window)))
            later_fit()

        dock.toggleViewAction().toggled.connect(toggled)
        dock.toggleViewAction().triggered.connect(opened)
        dock.visibilityChanged.connect(lambda _v: later_fit())
        dock.topLevelChanged.connect(lambda _f: later_fit())
