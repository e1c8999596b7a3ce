"""Errors of the inference algorithms; each names the model and the site and says how to fix it."""

from ..errors import ModelError


class InferenceError(ModelError, ValueError):
    """An inference algorithm cannot handle this model as asked (or the model rejected every run)."""


class EnumerationError(InferenceError):
    """Enumerate met a site it cannot sum over (continuous or unbounded), or more paths than allowed."""
