"""Many MH chains as one batched chain: each step is one vmapped run of the model for all chains.

For a model whose sites do not depend on sampled values (so every chain has the same random choices,
in the same order), a step of k single-site chains is: pick a target choice per chain, run the model
once under ``vmap`` with each chain's current values, drawing anew only at each chain's target (from its
prior given the chain's other values), score every site per chain, and accept per chain. The acceptance
ratio is single-site MH's with the same choices before and after (so no fresh/stale terms):

    log a = sum over choices r other than the target [log p'(r) - log p(r)] + [fixed' - fixed]

A reused value outside its site's new support scores -inf (the step is rejected for that chain). A step
carries only the choices' values and the scores (:class:`ChainState`); the kept states become one trace
at the end, by one batched replay.
"""

import math

import torch
from torch.distributions import constraints

from ..runtime import Messenger, model_name
from ..settings import settings
from ..vectorize.batched_run import BatchedFunction, run_batched_with, site_checks
from ..vectorize.captured import capture
from ..vectorize.fallback import NotBatchable
from .errors import InferenceError

_INIT_TRIES = 100


class _Propose(Messenger):
    """Inside the batched run (one chain's view): every choice keeps the chain's value, except the target,
    which is drawn from its distribution in this run."""

    def __init__(self, model, index, run_inputs):
        super().__init__()
        # no target: a replay of given values (BatchedChains.replay), which draws nothing
        self.model, self.index, self.target, self.values = model, index, run_inputs.get("target"), run_inputs["values"]

    def process_message(self, msg):
        if msg.type != "sample" or msg.is_observed or msg.done or msg.value is not None:
            return
        j = self.index.get(msg.name)
        if j is None:
            raise NotBatchable(f"model '{model_name(self.model)}' made other random choices from one step to the next "
                               f"(site '{msg.name}' was not among the chains' random choices)")
        if self.target is None:
            msg.value = self.values[msg.name]
        else:
            msg.value = torch.where(self.target == j, msg.fn.sample(), self.values[msg.name])


def _log_prob(site):
    """One run's scaled, masked log-probability of the site, summed (a reused value outside the support is
    scored without complaint: the caller turns it into -inf)."""
    fn = site.fn
    fn._validate_args = False
    lp = fn.log_prob(site.value)
    if site.scale is not None and (type(site.scale) is torch.Tensor or site.scale != 1.0):
        lp = lp * site.scale
    if site.mask is not None and site.mask is not True:
        lp = torch.zeros_like(lp) if site.mask is False else torch.where(site.mask, lp, torch.zeros_like(lp))
    return lp.sum() if lp.dim() else lp


def _support_varies(support):
    """Whether a site's support may differ between runs and steps (Uniform(0, x)'s interval): a reused value
    must then be checked against it. Bernoulli's {0, 1} or Normal's reals hold no tensor: the value was
    drawn from that very support."""
    return any(isinstance(v, torch.Tensor) or (isinstance(v, constraints.Constraint) and _support_varies(v))
               for v in vars(support).values())  # independent(interval(low, x), 1) holds its tensors one level down


def _depends_on_run(site):
    """Whether a choice's distribution (its parameters, scale or mask) may differ between the runs of the batch:
    whether it holds a tensor that vmap batches (one made from the run's values or draws). One that does not
    is the same distribution in every run and every step (a prior with constant parameters)."""
    return any(_batched(part) for part in (site.fn, site.scale, site.mask))


def _batched(value):
    if isinstance(value, torch.Tensor):
        return torch._C._functorch.is_batchedtensor(value)
    if value is None or isinstance(value, (bool, int, float, complex, str, torch.Size, torch.dtype, torch.device)):
        return False
    if isinstance(value, (list, tuple)):
        return any(_batched(v) for v in value)
    if isinstance(value, dict):
        return any(_batched(v) for v in value.values())
    if isinstance(value, (torch.distributions.Distribution, constraints.Constraint)):
        return any(_batched(v) for v in vars(value).values())
    return True  # an object we cannot see into may hold the run's values


class _RunScores:
    """What a step needs of one run (the ``reduce`` of a BatchedFunction): each random choice's value, the
    summed log-probability of every sample site that a proposal can change (the choices whose distribution
    depends on the run, in their order, then the evidence), whether each of those choices lies in its support
    (only where supports vary), and one flag per validation check. ``layout`` describes the last run's sites,
    so that the batched outputs can be read and errors can name the site.

    A choice whose distribution is the same in every run (a prior with constant parameters) is not scored:
    its log-probability changes only when it is the proposal's target, and single-site MH's acceptance ratio
    leaves the target's own prior out (it cancels the proposal), so the term is zero in every step."""

    def __init__(self, validate):
        self.validate, self.layout = validate, None

    def __call__(self, sites, ret):
        values, choice_scores, evidence, inside, checked = [], [], [], [], []
        names, choices, scored, choice_labels, evidence_labels = [], [], [], [], []
        for site in sites:
            if site.type != "sample":
                continue
            site.fn.batch_shape  # noqa: B018  materializes a deferred distribution
            names.append(site.name)
            label = f"factor '{site.name}'" if site.infer.get("is_auxiliary") else f"site '{site.name}'"
            if site.is_choice:
                values.append(site.value)
                choices.append(site.name)
                if _depends_on_run(site):
                    scored.append(len(choices) - 1)
                    choice_scores.append(_log_prob(site))
                    choice_labels.append(label)
                    inside.append((site.fn.support, site.value))
            else:
                evidence.append(_log_prob(site))
                evidence_labels.append(label)
            if self.validate:  # the checks that vmap made the model skip, one flag per run
                for constraint, tensor, _, _ in site_checks(site, site.is_observed or site.done):
                    if not tensor.numel():
                        continue  # a check of nothing (a factor's empty value) holds
                    flag = _all(constraint.check(tensor))
                    # A check of what is the same in every run and step (a constant parameter) is decided here,
                    # once: only a failed one is kept, for the caller to name.
                    if _batched(flag) or not bool(flag):
                        checked.append(flag)
        varies = any(_support_varies(support) for support, _ in inside)
        self.layout = _Layout(names, choices, tuple(scored), choice_labels + evidence_labels, varies)
        inside = [_all(support.check(value)) if _support_varies(support) else torch.ones((), dtype=torch.bool,
                  device=value.device) for support, value in inside] if varies else []
        # One output per site and per flag: stacked outside the batch, run dimension last (sums over the
        # sites then add rows, several times faster than reducing short rows).
        self.layout.num_checks = len(checked)
        return (*values, *choice_scores, *evidence, *inside, *checked)


def _all(flags):
    """One run's flags reduced to one (a scalar flag stays as it is: reducing it would cost an operation)."""
    return flags if flags.dim() == 0 else flags.all()


class _Layout:
    """One run's sample sites: their names in the order of the run, its choices, which of them are ``scored``
    (their indices among the choices), and the rows of the scores (the scored choices first, then the
    evidence) with how errors call them (site or factor); ``supports_vary`` says whether the scored choices'
    values must be checked against their supports."""

    __slots__ = ("choices", "labels", "names", "num_checks", "num_choices", "num_scored", "scored", "supports_vary")

    def __init__(self, names, choices, scored, labels, supports_vary):
        self.names, self.choices, self.scored, self.labels = names, choices, scored, labels
        self.supports_vary = supports_vary
        self.num_choices, self.num_scored, self.num_checks = len(choices), len(scored), 0


class ChainState:
    """Where k chains stand: each random choice's values (tensors with the chain dimension first), each chain's
    total log-probability over the scored sites (see :class:`_RunScores`; shape (k,)) and its scored choices'
    log-probabilities (shape (number of scored choices, k)).

    A step needs nothing more: the acceptance ratio is a difference of totals less the target's own terms,
    and a rejected chain keeps its row. The distributions, observations and return values of a kept state
    are made once, at the end, by one batched replay of all the kept values (:meth:`BatchedChains.replay`)."""

    __slots__ = ("choice_scores", "total", "values")

    def __init__(self, values, total, choice_scores):
        self.values, self.total, self.choice_scores = values, total, choice_scores


def _mix(accept, new, old):
    """``new`` where ``accept`` (per chain), else ``old``: tensors with the chain dimension first."""
    shape = (accept.shape[0],) + (1,) * (new.dim() - 1)
    return torch.where(accept.reshape(shape), new, old)


class BatchedChains:
    """k chains of single-site MH as one batched chain.

    A step is one function of tensors (:meth:`_step`): one vmapped run of the model proposing at each
    chain's target, the scores, the acceptance and the new state. Its first calls run the model's Python
    (checking that the chains keep the same random choices and draw nothing from Python's ``random``);
    then it is captured once as a graph of torch operations (:mod:`ppl_kernel.vectorize.captured`) and
    replayed, which leaves out the Python of the model, the handlers and vmap (most of a step's time).

    Raises :class:`NotBatchable` when the model cannot run batched (its reason names the line)."""

    _EAGER_STEPS = 1  # steps that run the model's Python (and check it) before the step is captured
    # Capturing costs about as much as 10-20 steps that run the model's Python (15-55 ms against 1-3 ms a step
    # for 1000 chains of the bench's models; a replayed step costs 0.15-0.5 ms): shorter runs keep running the
    # Python. (Our Bernoulli and Normal log densities have no in-place step, whose check under functionalize
    # would import torch's symbolic-shape machinery, a second, on the first capture of a process.)
    _CAPTURE_MIN_STEPS = 50

    def __init__(self, model, k, args, kwargs, steps=None):
        """``steps``: how many steps the run will make, when known (a short run is not worth capturing)."""
        self.model, self.k, self.args, self.kwargs = model, k, args, kwargs
        self.capture = steps is None or steps >= self._CAPTURE_MIN_STEPS
        self.validate = settings.validate
        self._scores = _RunScores(self.validate)
        self._steps, self._captured = 0, None

    # ---- the start ---------------------------------------------------------------------------------
    def initial(self):
        """A :class:`ChainState` from a batched prior run whose every chain has nonzero probability (chains at
        zero are drawn again)."""
        prior = BatchedFunction(self.model, self.args, self.kwargs, self._scores)
        with torch.no_grad():
            outputs = prior.guarded(lambda: prior(self.k))
        layout = self.layout = self._scores.layout
        if not layout.choices:
            raise NotBatchable(f"model '{model_name(self.model)}' has no random choices to propose")
        self.choices = layout.choices
        self.index = {name: j for j, name in enumerate(self.choices)}
        self._propose = BatchedFunction(self.model, self.args, self.kwargs, self._scores,
                                        inner=lambda run_inputs: _Propose(self.model, self.index, run_inputs))
        state = self._state_of(*self._read(outputs))
        for _ in range(_INIT_TRIES):
            bad = ~torch.isfinite(state.total)
            if not bool(bad.any()):
                return state
            with torch.no_grad():
                again = self._state_of(*self._read(prior.guarded(lambda: prior(self.k))))
            state = _mixed(bad, again, state)
        raise InferenceError(
            f"MH: model '{model_name(self.model)}' had probability zero in {_INIT_TRIES} batched runs from the prior "
            "for some chain, so it has no starting point. Check that the observations and factors are possible."
        )

    def _read(self, outputs):
        """The batched outputs of :class:`_RunScores` as (values dict, scores (scored sites, k) in float64, inside
        (scored choices, k) or None, and the validation checks' flags (each of shape (k,)))."""
        layout = self.layout
        c, s, i = layout.num_choices, len(layout.labels), layout.num_scored if layout.supports_vary else 0
        values = dict(zip(layout.choices, outputs[:c], strict=True))
        if s == 1:  # (one row: a view, not a stack, which _totals then sums without an operation)
            scores = outputs[c].to(torch.float64).unsqueeze(0)
        elif s:
            scores = torch.stack(outputs[c:c + s]).to(torch.float64)
        else:  # every choice is the same distribution in every run, and nothing is observed: nothing to score
            scores = torch.zeros((0, self.k), dtype=torch.float64, device=outputs[0].device)
        inside = torch.stack(outputs[c + s:c + s + i]) if i else None
        return values, scores, inside, outputs[c + s + i:]

    def _state_of(self, values, scores, inside, checks):
        total, choice_scores = _totals(scores, inside, self.layout)
        fine = _fine(checks, total)
        if not bool(fine.all()):
            self._raise_on_trouble(values, scores, fine)
        # NaN (an impossible run) becomes -inf; an infinite total stays infinite (nan_to_num's default would make
        # -inf the lowest finite float: an impossible start would pass as possible, and a chain stuck there
        # would accept any possible proposal as infinitely better, or none at all).
        return ChainState(values, torch.nan_to_num(total, nan=-math.inf, posinf=math.inf, neginf=-math.inf),
                          choice_scores)

    # ---- a step ------------------------------------------------------------------------------------
    def _step(self, total, choice_scores, *values):
        """One step of all chains as a function of tensors: (accept, fine, new total, new choice scores, the
        proposal's scores, its flags (see :func:`_fine`), new values..., proposed values...)."""
        k, layout = self.k, self.layout
        if layout.num_choices == 1:  # every chain proposes its one choice (a constant: no draw)
            target = torch.zeros(k, dtype=torch.long, device=total.device)
        else:
            target = torch.randint(layout.num_choices, (k,), device=total.device)
        outputs = self._propose(k, {"target": target, "values": dict(zip(layout.choices, values, strict=True))})
        self._check_same_choices()  # before the outputs are read by the first run's layout
        proposed, scores, inside, checks = self._read(outputs)
        new_total, new_choice_scores = _totals(scores, inside, layout)
        flags = _fine(checks, new_total)
        # log a = sum over sites other than the target of [new - old]: the target's prior cancels its proposal.
        # (A choice that is not scored has no term: it is the same distribution in every run.)
        scored, log_accept = layout.scored, new_total - total
        if not scored:
            target_change = None
        elif layout.num_choices == 1:
            target_change = new_choice_scores[0] - choice_scores[0]
        elif len(scored) == 1:
            target_change = torch.where(target == scored[0], new_choice_scores[0] - choice_scores[0], 0.0)
        else:
            chosen = torch.tensor(scored, device=total.device).unsqueeze(1) == target
            target_change = torch.where(chosen, new_choice_scores - choice_scores, 0.0).sum(0)
        if target_change is not None:
            log_accept = log_accept - target_change
        # A NaN total (a choice outside its support, -inf, met a density of +inf) needs no cleaning: log(u) < NaN
        # is false, so that chain stays where it was.
        accept = torch.log(torch.rand(k, dtype=torch.float64, device=total.device)) < log_accept
        new_values = [_mix(accept, proposed[name], old) for name, old in zip(layout.choices, values, strict=True)]
        # (with no scored choice, the choices' scores are an empty tensor that stays as it is)
        kept_scores = torch.where(accept, new_choice_scores, choice_scores) if scored else choice_scores
        return (accept, flags.all(), torch.where(accept, new_total, total), kept_scores, scores, flags, *new_values,
                *proposed.values())

    def step(self, state):
        """One single-site MH step of every chain: the new :class:`ChainState` and the acceptance mask."""
        inputs = (state.total, state.choice_scores, *(state.values[name] for name in self.choices))
        # No gradient: a parameter of the model (pyro.param) would otherwise chain every step's values and
        # scores into one autograd graph that grows with the run.
        with torch.no_grad():
            if self._captured is not None:
                outputs = self._captured(*inputs)
            elif self._steps >= self._EAGER_STEPS and self.capture:
                outputs = self._propose.guarded(lambda: self._capture(inputs))
            else:
                outputs = self._propose.guarded(lambda: self._step(*inputs))
        self._steps += 1
        accept, fine, total, choice_scores, scores, flags = outputs[:6]
        c = len(self.choices)
        values = outputs[6:6 + c]
        if not bool(fine):
            self._raise_on_trouble(dict(zip(self.choices, outputs[6 + c:], strict=True)), scores, flags)
        return ChainState(dict(zip(self.choices, values, strict=True)), total, choice_scores), accept

    def _capture(self, inputs):
        try:
            self._captured = capture(self._step, *inputs)
        except NotBatchable:
            raise
        except Exception:  # an operation the recorder cannot follow: the steps keep running the model's code
            self.capture = False
            return self._step(*inputs)
        return self._captured(*inputs)

    def _check_same_choices(self):
        layout, now = self.layout, self._scores.layout
        if now.names != layout.names:
            missing = [f"'{name}'" for name in layout.names if name not in now.names]
            added = [f"'{name}'" for name in now.names if name not in layout.names]
            what = (f"no site {', '.join(missing)} this time" if missing else
                    f"a new site {', '.join(added)}" if added else f"its sites in another order: {now.names}")
            raise NotBatchable(
                f"model '{model_name(self.model)}' made other random choices from one step to the next ({what})")
        if now.scored != layout.scored:
            changed = sorted(set(now.scored) ^ set(layout.scored))
            raise NotBatchable(
                f"model '{model_name(self.model)}' made the distribution of site '{layout.choices[changed[0]]}' depend "
                "on the run's values in one step and not in another (a model must not read state that changes "
                "between runs)")

    def _raise_on_trouble(self, values, scores, flags):
        """A bad parameter, or a NaN score, named by its site and chain; a NaN total with no NaN site (a choice
        outside its support, -inf, met a density of +inf) is an impossible run, which the caller rejects."""
        if not bool(flags[:-1].all()):  # the runs again, as a trace whose validation names the site, run and fix
            self._replay(values, self.k)
        nan = torch.isnan(scores)
        if bool(nan.any()):
            column, chain = (int(i) for i in torch.nonzero(nan)[0])
            raise _nan_error(self.model, self.layout.labels[column], chain)

    def replay(self, kept):
        """The kept states (a :class:`KeptStates`) as one BatchedTrace of ``len(kept) * k`` runs (kept state s of
        chain c at row ``s * k + c``): one batched run of the model with every choice's value given."""
        return self._replay(kept.values(), len(kept) * self.k)

    def _replay(self, values, n):
        return run_batched_with(self.model, n, self.args, self.kwargs,
                                inner=lambda run_inputs: _Propose(self.model, self.index, run_inputs),
                                inputs={"values": values}, check_values=False)


class KeptStates:
    """The choices' values of the kept states, copied as they come into one tensor per choice (kept state s of
    chain c at row ``s * k + c`` of :meth:`values`). A run keeps no ChainState: it needs none of their scores,
    and holding every step's fresh tensors cost more (new memory, page faults, a final concatenation) than
    one copy per choice and step."""

    def __init__(self, capacity):
        self.capacity, self.count, self.buffers = capacity, 0, None

    def add(self, state):
        if self.buffers is None:
            self.buffers = {name: torch.empty((self.capacity,) + value.shape, dtype=value.dtype, device=value.device)
                            for name, value in state.values.items()}
        for name, value in state.values.items():
            self.buffers[name][self.count].copy_(value)
        self.count += 1

    def __len__(self):
        return self.count

    def values(self):
        """Each choice's kept values, shape (kept states * k,) + one run's shape."""
        return {name: buffer[:self.count].reshape((-1,) + buffer.shape[2:]) for name, buffer in self.buffers.items()}


def _fine(checks, total):
    """The step's flags, shape (checks + 1, k): each validation check, then whether the total is a number
    (``x == x`` is false for NaN only); one ``all()`` of them says whether anything needs a closer look."""
    return torch.stack([*checks, total == total])


def _totals(scores, inside, layout):
    """Each chain's total log-probability over the scored sites, shape (k,), and its scored choices'
    log-probabilities, shape (scored choices, k), from their scores, shape (scored sites, k); a choice outside
    its support scores -inf."""
    choice_scores = scores[:layout.num_scored]
    if inside is None:
        return scores[0] if scores.shape[0] == 1 else scores.sum(0), choice_scores
    choice_scores = choice_scores.masked_fill(~inside, -math.inf)
    if layout.num_scored == scores.shape[0]:
        return choice_scores.sum(0), choice_scores
    return choice_scores.sum(0) + scores[layout.num_scored:].sum(0), choice_scores


def _mixed(accept, new, old):
    """The ChainState whose chain c is ``new``'s where ``accept[c]``, else ``old``'s."""
    values = {name: _mix(accept, value, old.values[name]) for name, value in new.values.items()}
    return ChainState(values, torch.where(accept, new.total, old.total),
                      torch.where(accept, new.choice_scores, old.choice_scores))


def _nan_error(model, label, chain):
    return InferenceError(
        f"MH: {label} of model '{model_name(model)}' has log-probability NaN (not a number) in chain {chain}, so "
        "the run's probability is undefined. Check that site's parameters and value (a NaN in the data, a 0/0 or "
        "inf - inf in an expression)."
    )
