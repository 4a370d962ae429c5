"""The desktop app (PySide6 + pyqtgraph).  All Qt code of the project lives here."""
