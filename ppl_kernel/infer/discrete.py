"""``infer_discrete``: draw a model's enumerated discrete sites from their posterior, or take its mode.

The model runs once with its enumerated sites (``infer={"enumerate": "parallel"}``, ``config_enumerate``)
taking all their values (hidden from handlers outside), then the sites are drawn one by one in run
order, each from its exact conditional given the data and the sites already drawn, everything after it
summed out (forward filtering, backward sampling; Viterbi-like with ``temperature=0``). Finally the
model runs again with those values, and with the values the first run drew at its other latent
sites, so that handlers outside (``trace``) see one ordinary run. This is Pyro's ``infer_discrete``.

>>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> from ppl_kernel import poutine
>>> from ppl_kernel.infer import config_enumerate
>>> @config_enumerate
... def model(data):
...     with pyro.plate("data", len(data)):
...         z = pyro.sample("z", dist.Categorical(torch.tensor([0.5, 0.5])))
...         pyro.sample("obs", dist.Normal(torch.tensor([0.0, 10.0])[z], 1.0), obs=data)
...     return z
>>> infer_discrete(model, first_available_dim=-2, temperature=0)(torch.tensor([0.3, 9.0, -1.0, 12.0]))
tensor([0, 1, 0, 1])
"""

import functools

import torch

from ..ops.contract import Factor, contract_tree
from ..poutine.block_messenger import BlockMessenger
from ..poutine.enum_messenger import EnumMessenger, EnumState
from ..poutine.trace_messenger import TraceMessenger
from ..runtime import Messenger, model_name
from .traceenum_elbo import ordinal, plate_layout, site_factor, site_logits, unscaled_log_prob


class _Given(Messenger):
    """Give the named latent sites these values."""

    def __init__(self, fn, values):
        super().__init__(fn)
        self.values = values

    def process_message(self, msg):
        if msg.type == "sample" and not msg.is_observed and not msg.done and msg.name in self.values:
            msg.value = self.values[msg.name]


def infer_discrete(fn=None, first_available_dim=None, temperature=1, *, strict_enumeration_warning=True):
    """A function that runs ``fn`` with its enumerated sites drawn from their posterior (``temperature=1``)
    or set to the most likely joint values (``temperature=0``); it takes ``fn``'s arguments.

    ``first_available_dim`` is ``-1 - max_plate_nesting``: the first dim left of every plate of ``fn``.

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> def model():  # which coin was tossed, after seeing 9 heads in 10 tosses?
    ...     coin = pyro.sample("coin", dist.Bernoulli(0.5), infer={"enumerate": "parallel"})
    ...     pyro.sample("heads", dist.Binomial(10, 0.5 + 0.4 * coin), obs=torch.tensor(9.0))
    ...     return coin
    >>> infer_discrete(model, first_available_dim=-1, temperature=0)().item()  # the biased one
    1.0
    """
    if fn is None:
        return functools.partial(infer_discrete, first_available_dim=first_available_dim, temperature=temperature,
                                 strict_enumeration_warning=strict_enumeration_warning)
    if temperature not in (0, 1):
        raise ValueError(f"infer_discrete: temperature must be 1 (posterior samples) or 0 (the most likely "
                         f"values), got {temperature!r}")
    if first_available_dim is None or first_available_dim >= 0:
        raise ValueError(f"infer_discrete(model '{model_name(fn)}'): give first_available_dim, a negative int: "
                         f"-1 - the number of nested plates (e.g. -2 with one plate), got {first_available_dim!r}")

    @functools.wraps(fn)
    def discrete_posterior(*args, **kwargs):
        values = _draw(fn, first_available_dim, temperature, args, kwargs)
        return _Given(fn, values)(*args, **kwargs)

    return discrete_posterior


def _draw(fn, first_available_dim, temperature, args, kwargs):
    """The values of one posterior draw (or the mode) of ``fn``'s enumerated sites, and of its other latent
    sites as the enumerated run drew them."""
    enum = EnumMessenger(fn, state=EnumState(first_available_dim))
    tracer = TraceMessenger(enum, calls=False)
    with torch.no_grad(), BlockMessenger():
        tracer(*args, **kwargs)
    trace = tracer.trace
    nesting = -1 - first_available_dim
    enumerated = list(enum.enumerated)
    ordinals = {name: ordinal(trace.nodes[name]) for name in enumerated}
    log_factors, values = {}, {}
    for site in trace.nodes.values():
        if site.type != "sample" or site.kind == "deterministic":
            continue
        factor = site_factor(site, unscaled_log_prob(site), enum.dim_to_name.get(site.name, {}), nesting, fn)
        if site.name in ordinals or any(n in ordinals for n in factor.names):
            log_factors.setdefault(ordinal(site), []).append(factor)
        elif site.is_latent:
            values[site.name] = site.value  # drawn in the enumerated run, independent of the enumerated sites
    with torch.no_grad():
        for name in enumerated:
            site = trace.nodes[name]
            target = ordinals[name]
            # the site stays among the ordinals (kept): a factor coupling it to an outer site not yet drawn is an
            # error, not a plate summed with it inside
            logits = site_logits(contract_tree(log_factors, ordinals, keep=(name,)), name, target, fn)
            del ordinals[name]
            plates = [n for n in logits.names if n != name]
            table = logits.aligned(plates + [name])
            index = table.argmax(-1) if temperature == 0 else torch.distributions.Categorical(logits=table).sample()
            chosen = Factor(index, plates)
            log_factors = {o: [f.index(name, chosen) for f in fs] for o, fs in log_factors.items()}
            values[name] = _site_value(site, chosen)
    return values


def _site_value(site, chosen):
    """The site's value for the chosen support indices, laid out in its plates' dims."""
    index = chosen.aligned(plate_layout(site, chosen.names))
    support = site.fn.enumerate_support(expand=False)
    support = support.reshape((support.shape[0],) + tuple(site.fn.event_shape))
    return support[index]
