"""Learning-rate schedules: a ``torch.optim.lr_scheduler`` per parameter, next to its optimizer.

Spelled as in Pyro::

    scheduler = ExponentialLR({"optimizer": torch.optim.Adam, "optim_args": {"lr": 0.1}, "gamma": 0.99})
    svi = SVI(model, guide, scheduler, Trace_ELBO())
    for epoch in range(n):
        svi.step(data)
        scheduler.step()      # advance every parameter's schedule
"""

from .optimizer import PyroOptim


class PyroLRScheduler(PyroOptim):
    """A per-parameter optimizer plus a learning-rate scheduler on each; ``step()`` advances them all.

    ``optim_args`` holds ``"optimizer"`` (a ``torch.optim`` class), ``"optim_args"`` (its arguments, a
    dict or a function of the parameter name) and the scheduler's own arguments.

    >>> import torch, ppl_kernel as pyro
    >>> from ppl_kernel.optim import ExponentialLR
    >>> pyro.clear_param_store()
    >>> x = pyro.param("x", torch.tensor(3.0))
    >>> sched = ExponentialLR({"optimizer": torch.optim.SGD, "optim_args": {"lr": 1.0}, "gamma": 0.5})
    >>> x.backward()
    >>> sched({"x": pyro.get_param_store().get_unconstrained("x")})
    >>> sched.step()
    >>> sched.optim_objs["x"].param_groups[0]["lr"]
    0.5
    """

    def __init__(self, scheduler_constructor, optim_args, clip_args=None):
        if not isinstance(optim_args, dict) or "optimizer" not in optim_args or "optim_args" not in optim_args:
            name = getattr(scheduler_constructor, "__name__", "scheduler")
            raise ValueError(
                f"{name}: optim_args must be a dict with 'optimizer' (a torch.optim class) and 'optim_args' (its "
                f"arguments) besides the scheduler's own, e.g. {name}({{'optimizer': torch.optim.Adam, "
                f"'optim_args': {{'lr': 0.01}}, 'gamma': 0.1}}); got {optim_args!r}"
            )
        scheduler_args = dict(optim_args)
        optimizer = scheduler_args.pop("optimizer")
        args = scheduler_args.pop("optim_args")
        self.pt_scheduler_constructor = scheduler_constructor
        self.kwargs = scheduler_args
        self.schedulers = {}
        self._pending_scheduler = {}  # loaded scheduler states of parameters not seen yet
        super().__init__(optimizer, args, clip_args)

    def _make_optimizer(self, name, p):
        opt = super()._make_optimizer(name, p)
        self.schedulers[name] = self.pt_scheduler_constructor(opt, **self.kwargs)
        return opt

    def step(self, *args, **kwargs):
        """Advance every parameter's schedule (``ReduceLROnPlateau`` takes the loss: ``step(loss)``)."""
        for scheduler in self.schedulers.values():
            scheduler.step(*args, **kwargs)

    def get_state(self):
        state = super().get_state()
        return {name: {"optimizer": opt, "scheduler": self.schedulers[name].state_dict()}
                if name in self.schedulers else opt for name, opt in state.items()}

    def set_state(self, state):
        optimizers = {}
        for name, entry in state.items():
            if isinstance(entry, dict) and "scheduler" in entry:
                optimizers[name] = entry["optimizer"]
                if name in self.schedulers:
                    self.schedulers[name].load_state_dict(entry["scheduler"])
                else:
                    self._pending_scheduler[name] = entry["scheduler"]
            else:
                optimizers[name] = entry
        super().set_state(optimizers)

    def _create(self, name, p):
        opt = super()._create(name, p)
        pending = self._pending_scheduler.pop(name, None)
        if pending is not None:
            self.schedulers[name].load_state_dict(pending)
        return opt
