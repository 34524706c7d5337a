"""The Qt side of fcnviewer: widgets only (canvas, panels, layer controls, menus, export, main
window), the worker threads and the controller that talks to them. The state they show lives in
``fcnviewer.viewer``.

Modules here import no torch at module level, so that the window shows before the network
stack is loaded; the worker imports ``fcnviewer.core``'s network stack lazily on its own thread.
"""
