"""Reading files written by ``ParamStore.save`` and ``PyroOptim.save``: tensors and plain data only, by default.

``torch.load(weights_only=False)`` unpickles arbitrary objects, and unpickling can run any code the
file's author chose. Our own files hold only tensors, numbers, strings and containers (constraints
are written as plain descriptions, see ``params.py``), so they load with ``weights_only=True``;
anything else is an explicit opt-in by the caller.
"""

import pickle
import re

import torch

from .errors import UnsafeCheckpointError

_UNSUPPORTED = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def load_checkpoint(filename, map_location, weights_only, what):
    """``torch.load`` that, with ``weights_only=True``, turns torch's refusal into an error saying what to do."""
    if not weights_only:
        return torch.load(filename, map_location=map_location, weights_only=False)
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        found = _UNSUPPORTED.search(str(e))
        found = f" (it holds {found.group(1)})" if found else ""
        raise UnsafeCheckpointError(
            f"{what}: {filename!s} holds objects other than tensors and plain data{found}, so it was not loaded "
            f"with weights_only=True. Unpickling such a file can run any "
            "code its author put there. If you trust where the file came from, load it with weights_only=False; "
            "otherwise save it again with this version of ppl_kernel, which writes plain data only."
        ) from None
