"""The "Inside the generator" dock: layer heatmaps, the channel inspector, unit ranking and
ablation.

``install(window)`` adds the dock (hidden until shown from the View menu) and turns the
renderer's activation capture on only while the dock is visible, so a hidden dock costs
nothing per frame.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDockWidget, QMainWindow, QMenu, QSplitter, QTabWidget, QWidget

from .panels.ablation import AblationPanel
from .panels.channels import ChannelsPanel
from .panels.layers import LayersPanel
from .panels.units import UnitsPanel


class LayersDock(QDockWidget):
    """Tabs (layer heatmaps, channel inspector, unit ranking) above the ablation controls."""

    def __init__(self, state, parent: QWidget | None = None) -> None:
        super().__init__("Inside the generator", parent)
        self.setObjectName("layers_dock")
        self.layers = LayersPanel(state)
        self.channels = ChannelsPanel(state)
        self.ablation = AblationPanel(state)
        self.units = UnitsPanel(state)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.layers, "Layer heatmaps")
        self.tabs.addTab(self.channels, "Channels of a layer")
        self.tabs.addTab(self.units, "Rank units")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tabs)
        split.addWidget(self.ablation)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 0)
        split.setChildrenCollapsible(False)
        self.setWidget(split)
        self.channels.channelClicked.connect(self.ablation.pick_channel)

    def detach(self) -> None:
        for p in (self.layers, self.channels, self.units, self.ablation):
            p.detach()


def _view_menu(window: QMainWindow) -> QMenu:
    for action in window.menuBar().actions():
        if action.menu() is not None and action.text().replace("&", "") == "View":
            return action.menu()
    menus = [a for a in window.menuBar().actions() if a.menu() is not None]
    help_action = next((a for a in menus if a.text().replace("&", "") == "Help"), None)
    menu = QMenu("&View", window)
    window.menuBar().insertMenu(help_action, menu) if help_action else window.menuBar().addMenu(menu)
    return menu


def install(window) -> LayersDock:
    """Add the dock to ``window`` (a MainWindow), hidden, with a View-menu toggle (Ctrl+L)."""
    dock = LayersDock(window.state, window)
    # the heatmaps want height: the right dock area reaches down past the bottom docks
    window.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.hide()
    toggle = dock.toggleViewAction()
    toggle.setText("Inside the &generator (layers, ablation)")
    toggle.setShortcut(QKeySequence("Ctrl+L"))
    _view_menu(window).addAction(toggle)
    dock.visibilityChanged.connect(lambda _v: window.renderer.set_capture(dock.isVisible()))
    window.layers_dock = dock
    return dock
