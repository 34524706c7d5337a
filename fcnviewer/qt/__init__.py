"""The Qt side of fcnviewer: layer models, worker thread, canvas, panels and the main window.

Modules here import no torch at module level, so that the window shows before the network
stack is loaded; the worker imports ``fcnviewer.core`` lazily on its own thread.
"""
