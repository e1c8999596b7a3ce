"""``PyroOptim``: one ``torch.optim`` optimizer per parameter, made when the parameter first gets a gradient.

Parameters appear while a model runs (``param("a", ...)`` inside a guide), so no optimizer can be
built up front. As in Pyro, each parameter gets its own optimizer the first time it takes a step;
its settings may depend on its name (``optim_args`` as a function of the name), and its state can
be saved and loaded by name.
"""

import inspect

import torch

from ..params import get_param_store


class PyroOptim:
    """Wrap a ``torch.optim`` class so that it runs per parameter, created lazily.

    ``optim_args`` is a dict of the optimizer's keyword arguments (``{"lr": 0.01}``) or a function
    ``name -> dict`` for per-parameter settings. ``clip_args`` (``{"clip_norm": 10.0}`` or
    ``{"clip_value": 1.0}``, or a function of the name) clips each gradient before the step.

    >>> import torch, ppl_kernel as pyro
    >>> from ppl_kernel.optim import Adam
    >>> pyro.clear_param_store()
    >>> x = pyro.param("x", torch.tensor(3.0))
    >>> optim = Adam({"lr": 0.5})
    >>> (x - 1.0).pow(2).backward()
    >>> optim({"x": pyro.get_param_store().get_unconstrained("x")})
    >>> round(pyro.param("x").item(), 2)  # Adam's first step moves lr against the gradient's sign
    2.5
    """

    def __init__(self, optim_constructor, optim_args, clip_args=None):
        if not (callable(optim_args) or isinstance(optim_args, dict)):
            raise TypeError(
                f"{type(self).__name__}: optim_args must be a dict such as {{'lr': 0.01}} or a function "
                f"param_name -> dict, got {type(optim_args).__name__} {optim_args!r}"
            )
        if clip_args is not None and not (callable(clip_args) or isinstance(clip_args, dict)):
            raise TypeError(
                f"{type(self).__name__}: clip_args must be a dict such as {{'clip_norm': 10.0}} or a function "
                f"param_name -> dict, got {type(clip_args).__name__}"
            )
        self.pt_optim_constructor = optim_constructor
        self.pt_optim_args = optim_args
        self.pt_clip_args = clip_args
        self.optim_objs = {}  # param name -> torch optimizer (of that one parameter)
        self._clips = {}  # param name -> (clip_norm, clip_value)
        self._pending_state = {}  # loaded states of optimizers not created yet
        try:
            self._takes_foreach = "foreach" in inspect.signature(optim_constructor).parameters
        except (TypeError, ValueError):
            self._takes_foreach = False

    def __call__(self, params, *args, **kwargs):
        """Take one step for each parameter that has a gradient.

        ``params`` is a dict ``name -> unconstrained tensor`` (what SVI passes) or an iterable of
        tensors from the parameter store (Pyro's spelling; names are looked up in the store).
        """
        items = params.items() if isinstance(params, dict) else ((self._name_of(p), p) for p in params)
        optim_objs = self.optim_objs
        for name, p in items:
            if p.grad is None:
                continue
            opt = optim_objs.get(name)
            # A parameter re-created under the same name (clear_param_store) starts afresh.
            if opt is None or opt.param_groups[0]["params"][0] is not p:
                opt = self._create(name, p)
            clip = self._clips[name]
            if clip is not None:
                self._clip(p, *clip)
            opt.step(*args, **kwargs)

    def _name_of(self, p):
        name = get_param_store().param_name(p)
        # A tensor outside the store is still optimizable; its identity is its name.
        return name if name is not None else f"<tensor {id(p):x}>"

    def _create(self, name, p):
        opt = self.optim_objs[name] = self._make_optimizer(name, p)
        self._clips[name] = self._clip_of(name)
        state = self._pending_state.pop(name, None)
        if state is not None:
            opt.load_state_dict(state)
        return opt

    def _args_for(self, name):
        args = self.pt_optim_args(name) if callable(self.pt_optim_args) else self.pt_optim_args
        if not isinstance(args, dict):
            raise TypeError(f"optim_args({name!r}) must return a dict such as {{'lr': 0.01}}, got {args!r}")
        return args

    def _make_optimizer(self, name, p):
        args = self._args_for(name)
        if self._takes_foreach and "foreach" not in args and "fused" not in args:
            # One tensor per optimizer: the multi-tensor path has nothing to batch, only its dispatch to pay.
            args = dict(args, foreach=False)
        try:
            return self.pt_optim_constructor([p], **args)
        except TypeError as e:
            raise TypeError(
                f"{getattr(self.pt_optim_constructor, '__name__', self.pt_optim_constructor)} rejected the "
                f"optim_args for parameter '{name}': {e}. Check the keys (e.g. Adam takes lr, betas, eps, "
                "weight_decay)."
            ) from None

    def _clip_of(self, name):
        if self.pt_clip_args is None:
            return None
        clip = self.pt_clip_args(name) if callable(self.pt_clip_args) else self.pt_clip_args
        unknown = set(clip) - {"clip_norm", "clip_value"}
        if unknown:
            raise ValueError(f"clip_args for parameter '{name}': unknown keys {sorted(unknown)}; "
                             "use clip_norm and/or clip_value")
        return clip.get("clip_norm"), clip.get("clip_value")

    @staticmethod
    def _clip(p, clip_norm, clip_value):
        if clip_norm is not None:
            torch.nn.utils.clip_grad_norm_([p], clip_norm)
        if clip_value is not None:
            torch.nn.utils.clip_grad_value_([p], clip_value)

    def get_state(self):
        """Each optimizer's ``state_dict``, by parameter name (plus any loaded but not yet used)."""
        state = dict(self._pending_state)
        state.update({name: opt.state_dict() for name, opt in self.optim_objs.items()})
        return state

    def set_state(self, state):
        """Restore optimizer states by parameter name; those not created yet pick theirs up when they are."""
        for name, opt_state in state.items():
            opt = self.optim_objs.get(name)
            if opt is None:
                self._pending_state[name] = opt_state
            else:
                opt.load_state_dict(opt_state)

    def save(self, filename):
        """Write the optimizers' states to ``filename`` (resume training with ``load``)."""
        torch.save(self.get_state(), filename)

    def load(self, filename, map_location=None, weights_only=True):
        """Restore the optimizers' states saved in ``filename``.

        The file is read with ``torch.load(weights_only=True)``: tensors and plain data only, which is
        all that ``save`` writes; anything else raises :class:`~ppl_kernel.errors.UnsafeCheckpointError`.

        .. warning:: ``weights_only=False`` unpickles arbitrary objects, and unpickling can run any code
           the file's author put in it. Pass it only for a file from a source you trust.
        """
        from ..checkpoint import load_checkpoint

        self.set_state(load_checkpoint(filename, map_location, weights_only, f"{type(self).__name__}.load"))

    def __repr__(self):
        name = getattr(self.pt_optim_constructor, "__name__", repr(self.pt_optim_constructor))
        args = "<per-parameter>" if callable(self.pt_optim_args) else self.pt_optim_args
        return f"{type(self).__name__}({name}, {args})"
