"""The explorer's main window: model chooser, menus, the panels, settings, drag and drop.

The window owns the state, the renderer and the atlas service; it builds the panels and
connects nothing between them (panels only talk to the state).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (QComboBox, QFileDialog, QFrame, QLabel, QMainWindow, QMessageBox, QScrollArea, QSplitter,
                               QVBoxLayout, QWidget)

from latent_explorer.models.atlas import AtlasError, load_atlas
from latent_explorer.models.checkpoint import Checkpoint, CheckpointError
from latent_explorer.models.registry import ModelEntry, default_entry, open_model, model_folders, quick_resolution, scan_folders

from .comparedock import install as install_compare_dock
from .finddock import install as install_find_dock
from .historydock import install as install_history_dock
from .layersdock import install as install_layers_dock
from .jobs import AtlasService
from .maparea import MapArea
from .modelloader import ModelLoader
from .overlayjob import OverlayService
from .panels.atlasstatus import AtlasStatusPanel
from .panels.digits import DigitsPanel
from .panels.empty import how_to_get_models
from .panels.image import ImagePanel
from .panels.pointinfo import PointInfoPanel
from .panels.readout import ReadoutPanel
from .panels.sliders import SlidersPanel
from .renderer import Renderer
from .screenfit import first_size, fit
from .settings import remember_folder, start_folder
from .shortcuts import show_shortcuts
from .screenfit import install as install_screen_fit
from .state import ExplorerState
from .style import configure_pyqtgraph
from .widgets.overlaybar import OverlayBar
from .walkexport import install as install_walk

OPEN_ERRORS = (CheckpointError, AtlasError, ValueError, OSError, RuntimeError)
FILE_FILTER = "latent-explorer files (*.pt *.h5);;Checkpoints (*.pt);;Atlases (*.atlas.h5 *.h5);;All files (*)"


IDLE_RELEASE_MS = 3000  # idle time after which freed memory goes back to the system


class MainWindow(QMainWindow):
    """One window, one model at a time."""

    def __init__(self, models_dir: Path, classifier_path: Path, settings: QSettings,
                 atlas_resolution: Callable[[int, bool], int] = quick_resolution,
                 atlas_method: str = "auto", autobuild_atlas: bool = True, preview: bool | None = None) -> None:
        """``preview``: open the first model with a numpy engine and load torch after its
        first frame (``app/qt/modelloader.py``); by default when torch is not imported yet."""
        super().__init__()
        configure_pyqtgraph()
        self.models_dir = Path(models_dir)
        self.classifier_path = Path(classifier_path)
        self.settings = settings
        self.setWindowTitle("latent-explorer")
        self.setAcceptDrops(True)
        self.state = ExplorerState(self)
        self.renderer = Renderer(self.state)
        self.atlases = AtlasService(self.state, resolution=atlas_resolution, method=atlas_method,
                                    autostart=autobuild_atlas)
        self.loader = ModelLoader(self.state, classifier_path, "torch" not in sys.modules if preview is None else preview)
        self.loader.failed.connect(self.show_error)
        self.entries: list[ModelEntry] = []
        self.map_area: MapArea | None = None
        self._build_ui()
        self._build_menus()
        install_history_dock(self)
        install_layers_dock(self)  # layer heatmaps, channels, ablation
        install_compare_dock(self)  # the same point through the activation variants
        install_find_dock(self)  # draw or load a digit, find it, nearest training images (Ctrl+F)
        self.walk.add_view_toggle()
        install_screen_fit(self)  # docks scroll, come to the front when opened; the window stays on its screen
        self.state.modelChanged.connect(self._model_changed)
        # after a few idle seconds, hand the heap's freed pages back to the system: frames,
        # exports and worker results free memory that the C allocator would otherwise keep
        self._idle_release = QTimer(self)
        self._idle_release.setSingleShot(True)
        self._idle_release.setInterval(IDLE_RELEASE_MS)
        self._idle_release.timeout.connect(self.release_idle_memory)
        for sig in (self.state.frameChanged, self.state.atlasChanged, self.state.modelChanged):
            sig.connect(self._idle_release.start)
        self.renderer.failed.connect(lambda msg: self.statusBar().showMessage(msg, 5000))
        self.refresh_models()
        self._rebuild_map_area()
        self._restore_geometry()

    # ------------------------------------------------------------ building
    def _build_ui(self) -> None:
        tb = self.addToolBar("Model")
        tb.setObjectName("model_toolbar")
        tb.setMovable(False)
        tb.addWidget(QLabel(" Model: "))
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("model_chooser")
        self.model_combo.setMinimumContentsLength(22)
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.model_combo.activated.connect(self._combo_activated)
        tb.addWidget(self.model_combo)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("main_splitter")
        self.splitter.setChildrenCollapsible(False)
        left = QWidget()
        col = QVBoxLayout(left)
        col.setContentsMargins(6, 6, 6, 6)
        self.image_panel = ImagePanel(self.state)
        self.readout_panel = ReadoutPanel(self.state)
        self.digits_panel = DigitsPanel(self.state)
        self.sliders_panel = SlidersPanel(self.state)
        self.point_panel = PointInfoPanel(self.state)
        # the image, the readout and the sliders always show; the image gives up height first,
        # the digit chooser and the point's details scroll on short screens
        self.image_panel.view.setMinimumSize(96, 96)
        col.addWidget(self.image_panel, 1)
        col.addWidget(self.readout_panel)
        col.addWidget(self.sliders_panel)
        extras = QWidget()
        extras_col = QVBoxLayout(extras)
        extras_col.setContentsMargins(0, 0, 0, 0)
        extras_col.addWidget(self.digits_panel)
        extras_col.addWidget(self.point_panel)
        extras_col.addStretch(1)
        self.extras_scroll = QScrollArea()
        self.extras_scroll.setObjectName("details_scroll")
        self.extras_scroll.setWidget(extras)
        self.extras_scroll.setWidgetResizable(True)
        self.extras_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.extras_scroll.setMinimumHeight(40)
        col.addWidget(self.extras_scroll)
        scroll = QScrollArea()  # very small screens: the controls scroll instead of being cut off
        scroll.setObjectName("controls_scroll")
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        widest = max(p.minimumSizeHint().width() for p in (self.readout_panel, self.digits_panel,
                                                            self.sliders_panel, self.point_panel))
        scroll.setMinimumWidth(widest + 12 + scroll.verticalScrollBar().sizeHint().width())
        self.splitter.addWidget(scroll)
        self.right = QWidget()
        self.right_layout = QVBoxLayout(self.right)
        self.right_layout.setContentsMargins(6, 6, 6, 6)
        self.overlay_service = OverlayService(self.state)  # geometry overlays, off the UI thread, per model
        self.overlay_bar = OverlayBar(self.state, self.overlay_service)
        self.right_layout.addWidget(self.overlay_bar)
        maps = QScrollArea()  # maps that need more room than the screen has scroll; the window never grows
        maps.setObjectName("maps_scroll")
        maps.setWidget(self.right)
        maps.setWidgetResizable(True)
        maps.setFrameShape(QFrame.Shape.NoFrame)
        self.splitter.addWidget(maps)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.setCentralWidget(self.splitter)
        self.atlas_status = AtlasStatusPanel(self.state, self.atlases)
        self.statusBar().addPermanentWidget(self.atlas_status)

    def _build_menus(self) -> None:
        m = self.menuBar().addMenu("&File")
        self.open_action = self._action(m, "&Open…", self.open_dialog, QKeySequence.StandardKey.Open)
        self._action(m, "&Reload model list", self.reload_models, "F5")
        m.addSeparator()
        self.export_action = self._action(m, "&Export point as image…", self.export_dialog, "Ctrl+E")
        self.walk = install_walk(self, m)  # the A-to-B walk dock and its exports
        m.addSeparator()
        self._action(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        p = self.menuBar().addMenu("&Point")
        self._action(p, "Go to the &origin", self.state.reset_point, "Ctrl+0")
        self._action(p, "&Random point", lambda: self.state.random_point(), "Ctrl+R")
        a = self.menuBar().addMenu("&Atlas")
        self.build_atlas_action = self._action(a, "&Build the missing atlas", self.atlases.build, None)
        self.cancel_atlas_action = self._action(a, "&Cancel atlas build", self.atlases.cancel, None)
        a.aboutToShow.connect(self._update_atlas_actions)
        for sig in (self.state.modelChanged, self.state.atlasChanged, self.atlases.started, self.atlases.idle,
                    self.atlases.finished):
            sig.connect(lambda *_: self._update_atlas_actions())
        h = self.menuBar().addMenu("&Help")
        self.shortcuts_action = self._action(h, "&Keyboard shortcuts…", lambda: show_shortcuts(self),
                                             QKeySequence.StandardKey.HelpContents)
        self._action(h, "&About latent-explorer", self._about, None)

    def _action(self, menu, text: str, slot, shortcut) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.triggered.connect(lambda _checked=False: slot())
        menu.addAction(act)
        return act

    # ------------------------------------------------------------ models
    @property
    def classifier(self) -> Checkpoint | None:
        """The digit classifier, or None when it is missing or damaged."""
        return self.loader.classifier

    @property
    def classifier_error(self) -> str:
        return self.loader.classifier_error

    def refresh_models(self) -> None:
        """Rescan the models folder for the chooser (keeping any model opened from elsewhere)."""
        self.entries = scan_folders(model_folders(self.models_dir))
        self._fill_combo()

    def reload_models(self) -> None:
        """File > Reload model list (F5): rescan, and say what was found in the status bar."""
        before = {e.path.resolve() for e in self.entries}
        self.refresh_models()
        after = {e.path.resolve() for e in self.entries}
        new = len(after - before)
        gone = len(before - after)
        change = (f": {new} new" if new else "") + (f"{', ' if new else ': '}{gone} gone" if gone else "")
        self.statusBar().showMessage(f"Model list reloaded from {self.models_dir}: "
                                     f"{len(self.entries)} model{'s' if len(self.entries) != 1 else ''}"
                                     f"{change or ', no change'}", 6000)

    def _fill_combo(self) -> None:
        current = self.state.model.path if self.state.model else None
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        paths = []
        for e in self.entries:
            self.model_combo.addItem(e.describe(), str(e.path))
            self.model_combo.setItemData(self.model_combo.count() - 1, str(e.path), Qt.ItemDataRole.ToolTipRole)
            paths.append(e.path.resolve())
        if current is not None and current.resolve() not in paths:
            self.model_combo.addItem(f"{self.state.model.describe()}  [{current.parent.name}/]", str(current))
            self.model_combo.setItemData(self.model_combo.count() - 1, str(current), Qt.ItemDataRole.ToolTipRole)
        if current is not None:  # compare resolved paths: a model opened by a relative path is still listed
            idx = next((i for i in range(self.model_combo.count())
                        if Path(self.model_combo.itemData(i)).resolve() == current.resolve()), -1)
            self.model_combo.setCurrentIndex(idx)
        if self.model_combo.count() == 0:
            self.model_combo.addItem("(no models found)", None)
        self.model_combo.blockSignals(False)

    def _combo_activated(self, index: int) -> None:
        path = self.model_combo.itemData(index)
        if path and (self.state.model is None or Path(path) != self.state.model.path):
            if not self.open_path(Path(path)):
                self._fill_combo()  # back to the model still shown

    def open_initial(self, model: str | None = None) -> None:
        """Open the model asked for, else the last one used, else the shipped 2-D GAN,
        else the first found; stay empty (with instructions) when there is none."""
        from latent_explorer.models.registry import resolve

        if model:
            try:
                self._open_first(resolve(model, self.models_dir))
            except ValueError as exc:
                self.show_error("Cannot open model", str(exc))
            if self.state.model is not None:
                return
        last = self.settings.value("model/last", "", type=str)
        if last and Path(last).is_file() and self._open_first(Path(last), report=False):
            return
        entry = default_entry(self.entries)
        if entry is not None:
            self._open_first(entry.path)

    def _open_first(self, path: Path, report: bool = True) -> bool:
        """Open the first model: as a preview (first frame without torch) where possible."""
        model = self.loader.open_preview(path) if path.suffix == ".pt" else None
        if model is None:
            return self.open_path(path, report)
        self.atlases.cancel()
        self.state.set_model(model)
        for note in model.notes:
            self.statusBar().showMessage(note, 10000)
        return True

    def wait_until_loaded(self, timeout: float = 120.0) -> bool:
        """Block until the model opened first has its torch engine (benchmarks, tests)."""
        from PySide6.QtWidgets import QApplication

        ok = self.loader.wait(timeout)
        QApplication.processEvents()  # the loader's queued report: engineReady
        return ok and (self.state.model is None or not self.state.model.pending)

    def open_path(self, path: Path, report: bool = True) -> bool:
        """Open a generator checkpoint, or an atlas for the current model.  On failure a
        dialog names the file and the problem, and the window keeps what it had."""
        path = Path(path)
        try:
            if path.suffix in (".h5", ".hdf5"):
                self._open_atlas(path)
                return True
            if self.classifier is None:
                raise CheckpointError(f"cannot explore models without the classifier: {self.classifier_error}")
            model = open_model(path, self.classifier)
        except OPEN_ERRORS as exc:
            if report:
                self.show_error(f"Cannot open {path.name}", str(exc))
            return False
        self.atlases.cancel()
        self.state.set_model(model)
        for note in model.notes:
            self.statusBar().showMessage(note, 10000)
        return True

    def _open_atlas(self, path: Path) -> None:
        model = self.state.model
        if model is None:
            raise AtlasError(f"{path}: open a generator first; an atlas belongs to one model")
        atlas = load_atlas(path, model.digest, model.classifier_digest)
        self.atlases.cancel()
        self.state.set_atlas(atlas)
        self.statusBar().showMessage(f"Atlas {path.name} loaded", 5000)

    def _update_atlas_actions(self) -> None:
        """Build only when the model has no atlas and none is being built; cancel only a build."""
        st, busy = self.state, self.atlases.busy
        self.build_atlas_action.setEnabled(st.model is not None and st.atlas is None and not busy)
        self.cancel_atlas_action.setEnabled(busy)

    def _model_changed(self) -> None:
        self._rebuild_map_area()
        QTimer.singleShot(0, self._release_memory)  # once the old model's widgets are gone
        self._fill_combo()
        model = self.state.model
        self.setWindowTitle(f"latent-explorer — {model.describe()}" if model else "latent-explorer")
        if model is not None and model.path is not None:
            self.settings.setValue("model/last", str(model.path.resolve()))

    def _release_memory(self) -> None:
        import gc

        gc.collect()
        self.release_idle_memory()

    def release_idle_memory(self) -> None:
        """Return the heap's free pages to the system (what the window does when idle)."""
        from latent_explorer.models.memory import release_free_memory

        release_free_memory()

    def _rebuild_map_area(self) -> None:
        old = self.map_area
        if old is not None:
            self._save_map_splitters()
            old.detach()
            self.right_layout.removeWidget(old)
            old.hide()
            old.setParent(None)
            old.deleteLater()
        folder = str(self.models_dir)
        html = how_to_get_models(folder)
        if self.loader.classifier_missing:
            html = f"<h2>The digit classifier is missing</h2><p>{self.classifier_error}</p>" + html
        self.map_area = MapArea(self.state, html)
        self.right_layout.addWidget(self.map_area)
        for s in self.map_area.splitters:
            saved = self.settings.value(f"splitter/{s.objectName()}")
            if isinstance(saved, QByteArray):
                s.restoreState(saved)

    def _save_map_splitters(self) -> None:
        if self.map_area is not None:
            for s in self.map_area.splitters:
                self.settings.setValue(f"splitter/{s.objectName()}", s.saveState())

    # ------------------------------------------------------------ dialogs
    def show_error(self, title: str, message: str) -> None:
        """A modal error box (tests replace ``QMessageBox.critical``); text from files shown escaped."""
        from latent_explorer.models.printable import printable, printable_lines

        QMessageBox.critical(self, printable(title), printable_lines(message))

    def open_dialog(self) -> None:
        start = str(start_folder(self.settings, self.models_dir))
        path, _ = QFileDialog.getOpenFileName(self, "Open a checkpoint or atlas", start, FILE_FILTER)
        if path:
            remember_folder(self.settings, Path(path).parent)
            self.open_path(Path(path))

    def export_dialog(self) -> None:
        st = self.state
        if st.model is None or st.frame is None:
            return
        name = f"{st.model.name}_" + "_".join(f"{v:+.2f}" for v in st.point) + ".png"
        start = start_folder(self.settings) / name
        path, _ = QFileDialog.getSaveFileName(self, "Export the point as an image", str(start),
                                              "PNG images (*.png);;PDF (*.pdf);;SVG (*.svg)")
        if path:
            remember_folder(self.settings, Path(path).parent)
            try:
                self.export(Path(path))
            except (OSError, ValueError) as exc:
                self.show_error("Cannot export", str(exc))

    def export(self, path: Path) -> Path:
        """Write what ``latent-explorer render`` would for the current point."""
        st = self.state
        if st.model is None:
            raise ValueError("no model loaded")
        self.renderer.render_now()
        axes = (0, 1)
        if st.atlas is not None:
            labels, conf = st.atlas.slice2d(axes, st.point, st.digit_or_none())
        else:
            from latent_explorer.models.maps import compute_slice

            labels, conf = compute_slice(st.model.engine, axes, st.point, st.digit_or_none())
        from latent_explorer.models.figures import point_figure, save_figure, slice_title  # matplotlib: only when exporting

        fig = point_figure(st.frame, labels, conf, model=st.model.name, axes=axes,
                           map_title=slice_title(st.latent_dim, axes, st.point, st.digit_or_none()),
                           ablations=st.ablations)
        return save_figure(fig, path)

    def _about(self) -> None:
        from latent_explorer.app import __version__

        QMessageBox.about(self, "About latent-explorer",
                          f"<b>latent-explorer {__version__}</b><p>Look inside small GANs: move through the "
                          f"latent space, watch the generated digit and the classifier's verdict, and see "
                          f"the class regions of the whole latent box.</p>")

    # ------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        files = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            # open after the drop returns, so a dialog never runs inside the drag
            QTimer.singleShot(0, lambda: self.open_path(files[0]))

    # ------------------------------------------------------------ settings
    def _restore_geometry(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(first_size(self))
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        split = self.settings.value("splitter/main")
        if isinstance(split, QByteArray):
            self.splitter.restoreState(split)
        else:
            self.splitter.setSizes([420, 1080])

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        fit(self)  # a size saved on a larger screen is cut to this one

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("splitter/main", self.splitter.saveState())
        self._save_map_splitters()
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.save_settings()
        self.loader.shutdown()  # first: a model loading in the background starts no atlas build or walk
        self.atlases.shutdown()
        self.overlay_service.shutdown()
        self.walk.dock.panel.runner.shutdown()
        self.walk.shutdown()
        self.compare_dock.panel.shutdown()
        self.find_dock.panel.shutdown()
        self.layers_dock.units.shutdown()
        self.renderer.shutdown()  # a render or trace in progress ends before the interpreter can
        super().closeEvent(event)
