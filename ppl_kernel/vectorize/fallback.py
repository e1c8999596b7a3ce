"""Why a model cannot run batched, said in one line that names the model and the line of code.

``torch.func.vmap`` refuses, with an error, every operation whose result would differ between runs in
a way one batched execution cannot follow: Python control flow on a sampled value, ``.item()``,
``.data``, ``.tolist()``, in-place random draws. We turn those errors into a reason a user can act on.
"""

import linecache
import os


from ..runtime import INTERNAL_FOLDERS, model_name


# (fragment of vmap's error text, what the model does) — first match wins.
_KINDS = (
    ("data-dependent control flow", "branches on a sampled value"),
    ("calling .item()", "reads a sampled value as a Python number (.item(), float(), int())"),
    # The same two without vmap (a tensor holding the values of many paths, Enumerate(vectorize=True)):
    ("Boolean value of Tensor with more than one value", "branches on a sampled value"),
    ("cannot be converted to Scalar", "reads a sampled value as a Python number (.item(), float(), int())"),
    ("only one element tensors can be converted", "reads a sampled value as a Python number (.item(), float(), int())"),
    ("converted to an index", "indexes a Python list or tuple with a sampled value"),
    ("accessing `data`", "reads .data of a sampled value"),
    ("doesn't have storage", "turns a sampled value into a Python list or NumPy array"),
    ("inplace randomness", "draws random numbers in place (x.bernoulli_(), x.uniform_(), x.exponential_())"),
    ("autograd.Function", "calls an autograd.Function that has no vmap rule"),
    ("requires_grad_()", "creates a parameter on its first run, which cannot happen inside a batched run "
                         "(the runs one by one create it; from then on the model batches)"),
)


class SequentialFallbackWarning(UserWarning):
    """Issued when ``vectorize`` runs a model's runs one by one because they cannot run as one batch."""


class NotBatchable(Exception):
    """A model's runs cannot go through as one batched execution; ``reason`` says why, in one line."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def describe_failure(model, error, site=None):
    """One line: what the model does that a batched run cannot follow, and where.

    ``site`` is the sample site being drawn when ``error`` happened, if any (then the sampler is at fault).
    """
    text = str(error)
    kind = next((what for fragment, what in _KINDS if fragment in text), None)
    if site is not None and kind is not None and ("inplace" in text or "autograd.Function" in text):
        # The draw itself failed: the distribution's own sampler is what vmap refuses.
        kind = f"samples site '{site.name}' from {type(site.fn).__name__}, whose sampler cannot run batched"
    if kind is None:
        first = text.strip().splitlines()[0] if text.strip() else ""
        kind = f"failed when run batched ({type(error).__name__}: {first[:160]})"
    where = user_line(error.__traceback__)
    return f"model '{model_name(model)}' {kind}" + (f" ({where})" if where else "")


def user_line(tb):
    """```source``` at file:line of the deepest frame of ``tb`` outside ppl_kernel and torch."""
    found = None
    while tb is not None:
        code = tb.tb_frame.f_code
        if not code.co_filename.startswith(INTERNAL_FOLDERS):
            found = (code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    if found is None:
        return None
    filename, lineno = found
    source = linecache.getline(filename, lineno).strip()
    place = f"{os.path.basename(filename)}:{lineno}"
    return f"`{source}` at {place}" if source else f"at {place}"
