"""The errors a model author meets, each naming the site or model and saying how to fix it."""

import pickle


class ModelError(Exception):
    """Base class of the errors ppl_kernel raises about a user's model."""


class DuplicateSiteError(ModelError, ValueError):
    """Two sample sites with the same name in one run."""


class InvalidParameterError(ModelError, ValueError):
    """A distribution parameter outside its constraint (``scale <= 0``, ``p`` outside [0, 1])."""


class SiteTypeError(ModelError, TypeError):
    """``fn`` is not a distribution or callable, or its arguments do not fit it."""


class ArgumentTypeError(ModelError, TypeError):
    """Something of the wrong kind given to ppl_kernel: a generator or async function as a model,
    ``condition``'s data that is not a mapping, a seed that is not an integer."""


class ReservedNameError(ModelError, ValueError):
    """A site named like a node the trace keeps for itself (``"_RETURN"``, the return value)."""


class UserDistributionError(SiteTypeError):
    """A user's ``Distribution`` subclass broke the contract: ``log_prob`` not a tensor, a draw of the wrong shape."""


class ObservationError(ModelError, ValueError):
    """An ``obs`` value of the wrong type or shape for its site."""


class RunawayModelError(ModelError, RuntimeError):
    """A run that does not end: too many sites, or recursion past Python's stack."""


class InferenceError(ModelError, ValueError):
    """An inference algorithm cannot handle this model as asked (or the model rejected every run)."""


class EnumerationError(InferenceError):
    """Enumerate met a site it cannot sum over (continuous or unbounded), or more paths than allowed."""


class DiscreteLatentError(InferenceError):
    """HMC/NUTS met a discrete latent site: gradients cannot move it."""


class GuideError(ModelError, ValueError):
    """The guide does not fit the model: it samples a site the model lacks, or one the model observes."""


class UnsafeCheckpointError(ModelError, pickle.UnpicklingError):
    """A saved file holds more than tensors and plain data, so it will not load with ``weights_only=True``."""


class SkippedStepWarning(UserWarning):
    """An SVI step was skipped because its loss or gradient was not finite; the message names the site."""


class UnhashableArgumentError(ModelError, TypeError):
    """``mem`` or ``cache`` got an argument it cannot remember values by (a list, a dict, an array)."""


class ModelNotSendableError(ModelError, TypeError):
    """``executor=...``: the model (or its arguments) holds something that cannot be pickled to a worker."""


class RunsLostWarning(UserWarning):
    """``executor=...``: a worker died and its chunk of the run could not be run again; the rest was kept."""


class GraphvizError(ModelError, RuntimeError):
    """A model graph asked for in a format only Graphviz's ``dot`` program writes (PDF, PNG, ...), where
    ``dot`` is not installed or cannot write that format."""
