"""fcnviewer: look inside Fully Convolutional Networks."""

__version__ = "0.1.0"
