"""Pyro's ``pyro.nn``: torch modules with random and constrained attributes (``PyroModule``)."""

from .module import PyroModule, PyroParam, PyroSample, pyro_method  # noqa: F401
