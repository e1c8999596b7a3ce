"""Inference: weighted traces of a model and the marginals read from them.

One import per line, so that each inference family adds its own lines.
"""

from .posterior import ABSENT  # noqa: F401
from .posterior import EmpiricalMarginal  # noqa: F401
from .posterior import TracePosterior  # noqa: F401
