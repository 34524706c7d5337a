"""The viewer's state without Qt: layer models, the viewer model, colormaps, the inspector's
reports and the worker's request/result protocol.

Modules here import ``fcnviewer.core`` and numpy, never PySide6 or pyqtgraph, and no torch at
import time (the window shows before the network stack is loaded); ``fcnviewer.qt`` draws them.
"""
