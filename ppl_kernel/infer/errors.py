"""The inference errors, importable from here as well (they live with every other user-facing error in
:mod:`ppl_kernel.errors`)."""

from ..errors import (  # noqa: F401
    DiscreteLatentError, EnumerationError, GuideError, InferenceError, SkippedStepWarning,
)
