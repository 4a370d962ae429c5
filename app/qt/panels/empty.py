"""What the window shows without a model: how to get one."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


def how_to_get_models(folder: str) -> str:
    return (f"<h2>No generator to explore yet</h2>"
            f"<p>latent-explorer looks for generator checkpoints (<code>*.pt</code>) in<br><code>{folder}</code></p>"
            f"<p>Train one, for example the 2-D GAN (about an hour on a laptop CPU):</p>"
            f"<pre>latent-explorer download\nlatent-explorer train gan --latent-dim 2 --out runs/gan2d</pre>"
            f"<p>then copy <code>runs/gan2d/gan2d.pt</code> into that folder, or open any checkpoint "
            f"with <b>File &gt; Open…</b> (Ctrl+O) or by dropping it on this window.</p>")


class EmptyPanel(QWidget):
    """A centred explanation (no state to bind to)."""

    def __init__(self, html: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        self.text = QLabel(html)
        self.text.setObjectName("empty_message")
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.text, 1)

    def detach(self) -> None:
        pass
