"""Rui'an complaint desk: the domain core shared by every function (shipped as a Lambda layer)."""

__version__ = "0.1.0"
