"""Pyro's import path of the handler base class: ``from pyro.poutine.messenger import Messenger``."""

from ..runtime import Messenger  # noqa: F401
