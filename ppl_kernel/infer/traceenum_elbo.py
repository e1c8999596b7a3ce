"""``TraceEnum_ELBO``: the ELBO with discrete sites summed out exactly instead of sampled.

A model site marked ``infer={"enumerate": "parallel"}`` (``config_enumerate`` marks them all) that the
guide does not sample is *marginalised*: the model runs once with every value of it at once (in a
tensor dimension left of the ``max_plate_nesting`` plate dims), and the loss is built from
``log sum_z p(x, z, ...)``, computed by variable elimination over plates (:mod:`ppl_kernel.ops.contract`).
The loss and its gradient are then those of the exact marginal likelihood (no Jensen gap, no
score-function noise for those sites).

A guide site marked for enumeration is *enumerated in the guide*: its values are weighted by their
guide probabilities, so the expectation over it is exact ("parallel": all values in one run,
"sequential": one run of guide and model per value). Other guide sites are sampled as in
``Trace_ELBO`` (reparameterised, or with the score-function term, DiCE style).

This is Pyro's ``TraceEnum_ELBO``; its loss agrees with pyro-ppl's on the same model, guide and
parameters to float precision.

>>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
>>> from ppl_kernel.infer import config_enumerate
>>> @config_enumerate
... def model(data):
...     weights = pyro.param("weights", torch.tensor([0.3, 0.7]))
...     with pyro.plate("data", len(data)):
...         z = pyro.sample("z", dist.Categorical(weights))
...         pyro.sample("obs", dist.Normal(torch.tensor([0.0, 10.0])[z], 1.0), obs=data)
>>> def guide(data):
...     pass
>>> data = torch.tensor([0.0, 10.0, 11.0])
>>> exact = dist.MixtureSameFamily(dist.Categorical(torch.tensor([0.3, 0.7])),
...                                dist.Normal(torch.tensor([0.0, 10.0]), 1.0)).log_prob(data).sum()
>>> abs(TraceEnum_ELBO(max_plate_nesting=1).loss(model, guide, data) + exact.item()) < 1e-5
True
"""

import math
import warnings

import torch

from ..errors import EnumerationError
from ..ops.contract import Factor, contract_tree, product
from ..poutine.enum_messenger import EnumMessenger, EnumState
from ..poutine.replay_messenger import ReplayMessenger
from ..poutine.trace_messenger import TraceMessenger
from ..runtime import Messenger, explain, model_name
from .elbo import _guess_max_plate_nesting, check_model_guide_match


# ---- from sites to named factors ---------------------------------------------------------------------
def ordinal(site):
    """The plates a site sits in (vectorized ones: sequential plates are separate sites already)."""
    return frozenset(f.name for f in site.cond_indep_stack if f.dim is not None)


def unscaled_log_prob(site):
    """The site's per-element log-probability, masked but not scaled (enumerated terms are scaled after
    the sum over their values: ``scale * log sum``, not ``log sum`` of scaled terms)."""
    try:
        lp = site.fn.log_prob(site.value)
    except ValueError as e:
        raise explain(site, e) from None
    mask = site.mask
    if mask is False:
        return torch.zeros_like(lp)
    if mask is not None and mask is not True:
        lp = torch.where(mask, lp, torch.zeros_like(lp))
    return lp


def site_factor(site, log_prob, dim_to_name, max_plate_nesting, model):
    """``log_prob`` of ``site`` as a :class:`Factor`: each dim of size > 1 named by its plate (right of
    ``-max_plate_nesting``) or by the enumerated site that held it when the site ran (left of it)."""
    plates = {}
    for frame in site.cond_indep_stack:
        if frame.dim is None:
            continue
        if -frame.dim > max_plate_nesting:
            raise EnumerationError(
                f"site '{site.name}' of model '{model_name(model)}' is in plate '{frame.name}' at dim {frame.dim}, "
                f"but max_plate_nesting={max_plate_nesting}: enumeration would use that dim too. Set "
                f"max_plate_nesting={-frame.dim} (the number of nested plates) in TraceEnum_ELBO, infer_discrete's "
                f"first_available_dim={frame.dim - 1} or the MCMC kernel."
            )
        plates[frame.dim] = frame.name
    names, sizes = [], []
    for i, size in enumerate(log_prob.shape):
        if size == 1:
            continue
        dim = i - log_prob.dim()
        if dim >= -max_plate_nesting:
            name = plates.get(dim)
            if name is None:
                raise EnumerationError(
                    f"site '{site.name}' of model '{model_name(model)}' has a batch dim {dim} of size {size} "
                    "that no plate declares, so enumeration cannot tell its elements apart from an enumerated "
                    "site's values. Wrap the site in pyro.plate(..., {size}, dim={dim}), or make the dim part of "
                    "the event with .to_event(1)."
                )
        else:
            name = dim_to_name.get(dim)
            if name is None:
                raise EnumerationError(
                    f"site '{site.name}' of model '{model_name(model)}' has a batch dim {dim} of size {size} left "
                    f"of the {max_plate_nesting} plate dims (max_plate_nesting={max_plate_nesting}), which no "
                    "enumerated site holds. Set max_plate_nesting to the number of nested plates, and put every "
                    "batch dim of the model in a plate."
                )
        names.append(name)
        sizes.append(size)
    return Factor(log_prob.reshape(sizes), names)


def _common_scale(sites):
    scales = set()
    for site in sites:
        scale = site.scale
        if torch.is_tensor(scale):
            if scale.dim():
                raise EnumerationError(f"site '{site.name}': enumeration needs a number as poutine.scale, got a "
                                       f"tensor of shape {tuple(scale.shape)}")
            scale = scale.item()
        scales.add(float(scale))
    if len(scales) > 1:
        names = ", ".join(repr(s.name) for s in sites)
        raise EnumerationError(
            f"sites {names} depend on enumerated sites but have different scales {sorted(scales)} (subsampled "
            "plates of different sizes, or poutine.scale): enumeration sums them out together, which needs one "
            "scale. Put them under the same subsampling."
        )
    return scales.pop() if scales else 1.0


def marginal_model_terms(model_trace, enumerated, dim_to_name, max_plate_nesting, model, tree_keep=()):
    """The model's log-probability terms, grouped by ordinal, with the sites in ``enumerated`` summed out.

    Returns ``(terms, log_factors, ordinals, scale)``: ``terms`` maps ordinals to Factors whose log-sum
    is the model's log-joint marginalised over the enumerated sites (kept if in ``tree_keep``);
    ``log_factors`` are the enumeration-dependent factors before contraction."""
    terms, log_factors, factor_sites = {}, {}, []
    ordinals = {}
    for site in model_trace.nodes.values():
        if site.type != "sample" or site.kind == "deterministic":
            continue
        names = dim_to_name.get(site.name, {})
        site_ordinal = ordinal(site)
        if site.name in enumerated:
            ordinals[site.name] = site_ordinal
        factor = site_factor(site, unscaled_log_prob(site), names, max_plate_nesting, model)
        if site.name in enumerated or any(n in enumerated for n in factor.names):
            log_factors.setdefault(site_ordinal, []).append(factor)
            factor_sites.append(site)
        elif torch.is_tensor(site.scale):  # a tensor scale may be batched: scale before naming the dims
            terms.setdefault(site_ordinal, []).append(site_factor(site, site.log_prob, names, max_plate_nesting, model))
        else:
            scaled = factor if site.scale == 1.0 else Factor(factor.tensor * site.scale, factor.names)
            terms.setdefault(site_ordinal, []).append(scaled)
    scale = _common_scale(factor_sites)
    if log_factors:
        for site_ordinal, contracted in contract_tree(log_factors, ordinals, keep=tree_keep).items():
            for factor in contracted:
                scaled = factor if scale == 1.0 else Factor(factor.tensor * scale, factor.names)
                terms.setdefault(site_ordinal, []).append(scaled)
    return terms, log_factors, ordinals, scale


def site_logits(tree, name, target, model):
    """The log-weights of enumerated site ``name``'s values, per element of its plates ``target``, from a tree
    contracted with ``keep=(name,)``: the product of the factors that mention it, deeper plates summed."""
    terms = [factor.sum([p for p in leaf - target])
             for leaf, factors in tree.items() for factor in factors if name in factor.names]
    logits = product(terms)
    others = [n for n in logits.names if n != name and n not in target]
    if others:
        raise EnumerationError(
            f"site '{name}' of model '{model_name(model)}' shares a factor with enumerated sites "
            f"{', '.join(repr(n) for n in others)} outside its plates, so its values are coupled across the plate. "
            "infer_discrete draws sites in model order: put those more global sites before it. (compute_marginals "
            "does not handle such sites.)"
        )
    return logits


def plate_layout(site, names):
    """Names for a site's rightmost batch dims as its plates lay them out (placeholders for dims no name has)."""
    dims = {f.name: f.dim for f in site.cond_indep_stack if f.dim is not None}
    width = max((-dims[n] for n in names if n in dims), default=0)
    return [next((n for n, d in dims.items() if d == dim), f"_{dim}") for dim in range(-width, 0)]


# ---- sequential enumeration in the guide -------------------------------------------------------------
class _Unexplored(BaseException):  # control flow, not an error: a guide's own `except Exception` must not stop it
    def __init__(self, name, values):
        super().__init__(name)
        self.name, self.values = name, values


class _SequentialChoice(Messenger):
    """Give each ``"sequential"`` guide site the value chosen for this run; stop at one not yet chosen."""

    def __init__(self, fn, chosen):
        super().__init__(fn)
        self.chosen = chosen

    def process_message(self, msg):
        if (msg.type == "sample" and not msg.done and not msg.is_observed
                and msg.infer.get("enumerate") == "sequential"):
            if msg.name not in self.chosen:
                raise _Unexplored(msg.name, list(msg.fn.enumerate_support(expand=True)))
            msg.value = self.chosen[msg.name]
            msg.done = True


# ---- the loss ------------------------------------------------------------------------------------------
class TraceEnum_ELBO:
    """``-ELBO`` with enumerated discrete sites summed out exactly (see the module); Pyro's interface.

    ``max_plate_nesting``: how many plates nest at most in model and guide (enumeration uses the dims left
    of them); guessed from a run of each if not given.

    >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> def model():  # a fair coin, then a noisy reading of it
    ...     z = pyro.sample("z", dist.Bernoulli(0.5), infer={"enumerate": "parallel"})
    ...     pyro.sample("y", dist.Normal(z, 1.0), obs=torch.tensor(1.0))
    >>> loss = TraceEnum_ELBO(max_plate_nesting=0).loss(model, lambda: None)
    >>> exact = torch.stack([dist.Normal(0.0, 1.0).log_prob(torch.tensor(1.0)),
    ...                      dist.Normal(1.0, 1.0).log_prob(torch.tensor(1.0))]).logsumexp(0) - torch.tensor(2.0).log()
    >>> abs(loss + exact.item()) < 1e-6
    True
    """

    def __init__(self, num_particles=1, max_plate_nesting=float("inf"), max_iarange_nesting=None,
                 vectorize_particles=False, strict_enumeration_warning=True, ignore_jit_warnings=False,
                 jit_options=None, retain_graph=None, tail_adaptive_beta=-1.0):
        if int(num_particles) != num_particles or num_particles < 1:
            raise ValueError(f"TraceEnum_ELBO: num_particles must be a positive integer, got {num_particles!r}")
        if vectorize_particles:
            raise NotImplementedError("TraceEnum_ELBO(vectorize_particles=True) is not supported: use "
                                      "num_particles alone (particles run one after another)")
        if max_iarange_nesting is not None:
            max_plate_nesting = max_iarange_nesting
        if max_plate_nesting != float("inf") and (int(max_plate_nesting) != max_plate_nesting or max_plate_nesting < 0):
            raise ValueError(f"TraceEnum_ELBO: max_plate_nesting must be a non-negative integer, got {max_plate_nesting!r}")
        self.num_particles = int(num_particles)
        self.max_plate_nesting = max_plate_nesting
        self.strict_enumeration_warning = strict_enumeration_warning
        self._warned = set()

    # ---- runs -------------------------------------------------------------------------------------
    def _runs(self, model, guide, args, kwargs):
        """Each (model trace, guide trace, enumeration info) to average: one per particle, times the
        values of the guide's sequentially enumerated sites."""
        if self.max_plate_nesting == float("inf"):
            self.max_plate_nesting = _guess_max_plate_nesting(model, guide, args, kwargs)
        for _ in range(self.num_particles):
            pending = [{}]
            while pending:
                chosen = pending.pop()
                try:
                    yield self._run(model, guide, chosen, args, kwargs)
                except _Unexplored as e:
                    pending.extend({**chosen, e.name: value} for value in e.values)

    def _run(self, model, guide, chosen, args, kwargs):
        state = EnumState(-1 - self.max_plate_nesting)
        guide_enum = EnumMessenger(_SequentialChoice(guide, chosen), state=state)
        guide_tracer = TraceMessenger(guide_enum, calls=False)
        guide_tracer(*args, **kwargs)
        guide_trace = guide_tracer.trace
        model_enum = EnumMessenger(ReplayMessenger(model, trace=guide_trace), state=state)
        model_tracer = TraceMessenger(model_enum, calls=False)
        model_tracer(*args, **kwargs)
        model_trace = model_tracer.trace
        unguided = check_model_guide_match(model_trace, guide_trace, model, guide)
        unguided = [n for n in unguided if n not in model_enum.enumerated]
        self._warn(model, guide, model_trace, guide_trace, unguided)
        return model_trace, guide_trace, guide_enum, model_enum

    def _warn(self, model, guide, model_trace, guide_trace, unguided):
        new = [n for n in unguided if n not in self._warned]
        if new:
            self._warned.update(new)
            warnings.warn(
                f"model '{model_name(model)}' samples {', '.join(repr(n) for n in new)}, which guide "
                f"'{model_name(guide)}' neither samples nor enumerates, and the model does not enumerate: they are "
                "drawn from the prior in every step. Mark them infer={'enumerate': 'parallel'} (config_enumerate) "
                "or add them to the guide.", stacklevel=5)
        if self.strict_enumeration_warning and "_no_enum" not in self._warned and not any(
                site.type == "sample" and site.infer.get("enumerate")
                for trace in (model_trace, guide_trace) for site in trace.nodes.values()):
            self._warned.add("_no_enum")
            warnings.warn("TraceEnum_ELBO found no sample sites configured for enumeration: mark discrete sites "
                          "with @config_enumerate or infer={'enumerate': 'parallel'}, or use Trace_ELBO.",
                          stacklevel=5)

    # ---- the estimate of one run --------------------------------------------------------------------
    def _elbo(self, model, guide, run):
        model_trace, guide_trace, guide_enum, model_enum = run
        nesting = self.max_plate_nesting
        dim_to_name = {**guide_enum.dim_to_name, **model_enum.dim_to_name}
        model_names = {name: model_enum.dim_to_name.get(name, {}) for name in model_trace.nodes}
        enumerated = set(model_enum.enumerated)
        if enumerated:
            self._check_guide_enumeration_outside(model_trace, guide_trace, guide_enum, enumerated, model)
        costs, _, _, _ = marginal_model_terms(model_trace, enumerated, model_names, nesting, model)
        dice = []  # (ordinal, log weight factor) of each guide site whose values are weighted
        for site in guide_trace.nodes.values():
            if not site.is_latent or site.kind == "deterministic":
                continue
            factor = site_factor(site, site.log_prob, dim_to_name.get(site.name, {}), nesting, guide)
            site_ordinal = ordinal(site)
            costs.setdefault(site_ordinal, []).append(Factor(-factor.tensor, factor.names))
            if site.name in guide_enum.enumerated or site.infer.get("enumerate") == "sequential":
                dice.append((site_ordinal, factor))  # the exact weights q(value)
            elif not site.fn.has_rsample:
                # DiCE: value 1, gradient that of log q (the score-function term)
                dice.append((site_ordinal, Factor(factor.tensor - factor.tensor.detach(), factor.names)))
        elbo = None
        for cost_ordinal, terms in costs.items():
            weights = [f for o, f in dice if o <= cost_ordinal]
            weight = product(weights) if weights else None
            for term in terms:
                if weight is None:
                    value = term.tensor.sum()
                else:
                    w = weight.logsumexp([n for n in weight.names if n not in term.names and n not in cost_ordinal])
                    names = tuple(dict.fromkeys(w.names + term.names))
                    value = (w.aligned(names).exp() * term.aligned(names)).sum()
                elbo = value if elbo is None else elbo + value
        if elbo is None:
            return torch.zeros(())
        return elbo

    def _check_guide_enumeration_outside(self, model_trace, guide_trace, guide_enum, enumerated, model):
        innermost = frozenset.intersection(*(ordinal(model_trace.nodes[n]) for n in enumerated))
        for name in guide_enum.enumerated:
            site = guide_trace.nodes[name]
            for frame in site.cond_indep_stack:
                if frame.dim is not None and frame.name not in innermost:
                    raise EnumerationError(
                        f"guide site '{name}' is enumerated in plate '{frame.name}', but model '{model_name(model)}' "
                        f"enumerates sites outside that plate ({', '.join(sorted(enumerated))}): model enumeration "
                        "must be no more global than guide enumeration. Enumerate those sites in the guide too, "
                        "or this one in the model (remove it from the guide)."
                    )

    # ---- Pyro's interface -------------------------------------------------------------------------------
    def loss(self, model, guide, *args, **kwargs):
        """The estimate of ``-ELBO`` (a float)."""
        with torch.no_grad():
            total = 0.0
            for run in self._runs(model, guide, args, kwargs):
                total += self._elbo(model, guide, run).item()
        return -total / self.num_particles

    def differentiable_loss(self, model, guide, *args, **kwargs):
        """``-ELBO`` as a tensor to differentiate."""
        total = None
        for run in self._runs(model, guide, args, kwargs):
            elbo = self._elbo(model, guide, run)
            total = elbo if total is None else total + elbo
        return -total / self.num_particles

    def loss_and_grads(self, model, guide, *args, **kwargs):
        """Estimate ``-ELBO`` (returned as a float) and add its gradient to the parameters' ``.grad``."""
        total = 0.0
        for run in self._runs(model, guide, args, kwargs):
            elbo = self._elbo(model, guide, run)
            total += elbo.item()
            if elbo.requires_grad:
                (-elbo / self.num_particles).backward()
        loss = -total / self.num_particles
        if math.isnan(loss):
            warnings.warn("TraceEnum_ELBO: the loss is nan", stacklevel=2)
        return loss

    def compute_marginals(self, model, guide, *args, **kwargs):
        """``{site name: distribution}``: for each site the model enumerates, its exact posterior marginal
        given the data and one run of the guide (a Categorical, or a Bernoulli for a Bernoulli site, with
        one entry per element of the site's plates).

        >>> import torch, ppl_kernel as pyro, ppl_kernel.distributions as dist
        >>> def model():
        ...     z = pyro.sample("z", dist.Bernoulli(0.5), infer={"enumerate": "parallel"})
        ...     pyro.sample("y", dist.Normal(3.0 * z, 1.0), obs=torch.tensor(3.0))
        >>> round(TraceEnum_ELBO(max_plate_nesting=0).compute_marginals(model, lambda: None)["z"].probs.item(), 4)
        0.989
        """
        if self.num_particles != 1:
            raise NotImplementedError("TraceEnum_ELBO.compute_marginals() uses one run of the guide: make the "
                                      "TraceEnum_ELBO with num_particles=1 for it")
        run = next(iter(self._runs(model, guide, args, kwargs)))
        model_trace, _, _, model_enum = run
        ordinals = {name: ordinal(model_trace.nodes[name]) for name in model_enum.enumerated}
        names = {name: model_enum.dim_to_name.get(name, {}) for name in model_trace.nodes}
        with torch.no_grad():
            _, log_factors, _, _ = marginal_model_terms(model_trace, set(ordinals), names, self.max_plate_nesting,
                                                        model)
            marginals = {}
            for name, target in ordinals.items():
                try:
                    tree = contract_tree(log_factors, ordinals, keep=(name,))
                except EnumerationError as e:
                    raise EnumerationError(
                        f"TraceEnum_ELBO.compute_marginals, model '{model_name(model)}': {e} Marginals of such a "
                        "site are not supported; infer_discrete draws it jointly with the outer sites (put those "
                        "before it in the model)."
                    ) from None
                logits = site_logits(tree, name, target, model)
                site = model_trace.nodes[name]
                table = logits.aligned(plate_layout(site, logits.names) + [name])
                table = table - table.logsumexp(-1, keepdim=True)
                if isinstance(site.fn, torch.distributions.Bernoulli):
                    marginals[name] = torch.distributions.Bernoulli(logits=table[..., 1] - table[..., 0])
                else:
                    marginals[name] = torch.distributions.Categorical(logits=table)
        return marginals

    def __call__(self, model, guide, *args, **kwargs):
        return self.differentiable_loss(model, guide, *args, **kwargs)

    def __repr__(self):
        return f"TraceEnum_ELBO(num_particles={self.num_particles}, max_plate_nesting={self.max_plate_nesting})"
