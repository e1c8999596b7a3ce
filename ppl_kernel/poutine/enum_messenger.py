"""``enum``: run a model with every site marked ``infer={"enumerate": "parallel"}`` taking all its values.

Such a site's value is its distribution's whole support laid out along a tensor dimension of its own,
to the left of the plates (``first_available_dim`` and further left): a Categorical over 3 values
at dim -2 gives a value of shape ``(3, 1)``. Code after it computes with all values at once by
broadcasting, and the log-probabilities of later sites carry that dimension; an inference algorithm
(``TraceEnum_ELBO``, ``infer_discrete``, MCMC) then sums it out exactly.

Each enumerated site takes the rightmost free dimension: one not held by an enumerated site still
in scope (every site, unless a ``markov`` loop has moved past it) or ``infer={"dim": d}`` to ask for
one. The handler notes which site owns each dimension at every sample site (``dim_to_name``), so
that a dimension reused along a markov chain still names the right site.

>>> import ppl_kernel as pyro, ppl_kernel.distributions as dist, torch
>>> from ppl_kernel import poutine
>>> def model():
...     x = pyro.sample("x", dist.Categorical(torch.ones(3)), infer={"enumerate": "parallel"})
...     y = pyro.sample("y", dist.Bernoulli(0.5), infer={"enumerate": "parallel"})
...     return x, y
>>> x, y = poutine.enum(model, first_available_dim=-1)()
>>> x.tolist(), y.shape
([0, 1, 2], torch.Size([2, 1]))
"""

from ..errors import EnumerationError
from ..runtime import Messenger, handler_function, model_name


class EnumState:
    """Which site holds each enumeration dim; shared by a guide's run and the model's run against it, so
    that the model's enumerated sites go to the left of the guide's."""

    def __init__(self, first_available_dim):
        if first_available_dim is None or first_available_dim >= 0:
            raise ValueError(f"enumeration: first_available_dim must be a negative int (-1 - max_plate_nesting), "
                             f"got {first_available_dim!r}")
        self.first_available_dim = first_available_dim
        self.owners = {}  # dim -> (site name, the site's markov marks)


def _expired(held, now):
    """A site with markov marks ``held`` is out of scope for one with marks ``now``: some markov loop around
    both has moved more than ``history`` steps past it."""
    steps = {ident: step for ident, step, _ in held}
    return any(ident in steps and step - steps[ident] > history for ident, step, history in now)


class EnumMessenger(Messenger):
    """Enumerate in parallel the sites marked ``infer={"enumerate": "parallel"}`` (see the module).

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist, torch
    >>> def model():
    ...     with pyro.plate("data", 4):  # dim -1 is the plate's: enumerate from dim -2
    ...         return pyro.sample("z", dist.Categorical(torch.ones(3)), infer={"enumerate": "parallel"})
    >>> with EnumMessenger(first_available_dim=-2):
    ...     z = model()
    >>> z.shape
    torch.Size([3, 1])
    """

    def __init__(self, fn=None, first_available_dim=None, state=None):
        super().__init__(fn)
        if state is None and first_available_dim is None:
            raise ValueError("poutine.enum needs first_available_dim: the first dim (counting from the right, "
                             "negative) left of every plate, -1 - max_plate_nesting")
        self._owns_state = state is None
        self.state = state if state is not None else EnumState(first_available_dim)
        self._model = model_name(fn) if fn is not None else "model"
        self.dim_to_name = {}  # site name -> {dim: name of the enumerated site owning it} when the site ran
        self.enumerated = {}  # site name -> its enumeration dim, for the sites this handler enumerated

    def __enter__(self):
        if self._owns_state:  # a run of its own: nothing is held from the last one
            self.state.owners.clear()
        self.dim_to_name = {}
        self.enumerated = {}
        return super().__enter__()

    def process_message(self, msg):
        if msg.type != "sample" or msg.done or msg.is_observed or msg.infer.get("enumerate") != "parallel":
            return
        fn = msg.fn
        if not getattr(fn, "has_enumerate_support", False):
            raise EnumerationError(
                f"site '{msg.name}' of model '{self._model}' is marked for enumeration, but its distribution "
                f"{type(fn).__name__} has no finite support to enumerate. Enumerate only discrete sites "
                "(Bernoulli, Categorical, ...): config_enumerate marks those alone; remove the "
                "infer={'enumerate': ...} of this one."
            )
        marks = msg.infer.get("_markov", ())
        dim = self._allocate(msg, marks)
        support = fn.enumerate_support(expand=False)
        event_shape = tuple(fn.event_shape)
        msg.value = support.reshape((support.shape[0],) + (1,) * (-1 - dim) + event_shape)
        msg.done = True
        msg.infer = dict(msg.infer)  # the dict may be config_enumerate's, shared by every site it marked
        msg.infer["_enumerate_dim"] = dim
        self.state.owners[dim] = (msg.name, marks)
        self.enumerated[msg.name] = dim

    def _allocate(self, msg, marks):
        state = self.state
        held = {dim for dim, (_, their_marks) in state.owners.items() if not _expired(their_marks, marks)}
        asked = msg.infer.get("dim")
        if asked is not None:
            if asked > state.first_available_dim or asked in held:
                raise EnumerationError(
                    f"site '{msg.name}' of model '{self._model}' asks for enumeration dim {asked}, but "
                    + (f"dims right of {state.first_available_dim} belong to plates" if asked > state.first_available_dim
                       else f"site '{state.owners[asked][0]}' holds it") + ". Ask for a free dim or drop infer['dim']."
                )
            return asked
        dim = state.first_available_dim
        while dim in held:
            dim -= 1
        batch_dims = len(msg.fn.batch_shape)
        if -1 - dim < batch_dims and msg.fn.batch_shape[dim] != 1:
            raise EnumerationError(
                f"site '{msg.name}' of model '{self._model}': its distribution's batch shape "
                f"{tuple(msg.fn.batch_shape)} uses dim {dim}, which enumeration needs for this site. Raise "
                "max_plate_nesting (TraceEnum_ELBO(max_plate_nesting=...)) to the number of nested plates, and "
                "put every batch dimension of the model in a plate."
            )
        return dim

    def postprocess_message(self, msg):
        if msg.type == "sample":
            self.dim_to_name[msg.name] = {dim: name for dim, (name, _) in self.state.owners.items()}


@handler_function(EnumMessenger)
def enum(fn=None, first_available_dim=None):
    return EnumMessenger(fn, first_available_dim=first_available_dim)
