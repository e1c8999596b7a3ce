"""The inference errors, importable from here as well (they live with every other user-facing error in
:mod:`ppl_kernel.errors`)."""

from ..errors import EnumerationError, GuideError, InferenceError, SkippedStepWarning  # noqa: F401
