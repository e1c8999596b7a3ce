"""``AutoGuideList``: one guide made of several, each for its own part of the model's latent sites."""

from ...runtime import model_name


class AutoGuideList:
    """Run each guide appended to it, in order, and merge what they return (Pyro's ``AutoGuideList``).

    Hand each part the model with the sites it should guide exposed, e.g.
    ``AutoDelta(poutine.block(model, expose=["a"]))``; a site guided twice is an error of the ELBO.

    >>> import ppl_kernel as pyro, ppl_kernel.distributions as dist
    >>> from ppl_kernel import poutine
    >>> from ppl_kernel.infer.autoguide import AutoDelta, AutoNormal
    >>> pyro.clear_param_store()
    >>> def model():
    ...     pyro.sample("a", dist.Normal(0.0, 1.0))
    ...     pyro.sample("b", dist.HalfNormal(1.0))
    >>> guide = AutoGuideList(model)
    >>> guide.append(AutoDelta(poutine.block(model, expose=["a"])))
    >>> guide.append(AutoNormal(poutine.block(model, hide=["a"])))
    >>> sorted(guide())
    ['a', 'b']
    """

    def __init__(self, model, prefix="auto"):
        if not callable(model):
            raise TypeError(f"AutoGuideList(model): the model must be a callable, got {model!r}")
        self.model = model
        self.prefix = prefix
        self.parts = []
        self.__name__ = f"AutoGuideList({model_name(model)})"

    def append(self, part):
        """Add a guide (an autoguide, or any callable guide returning a dict of site values or None)."""
        if not callable(part):
            raise TypeError(f"AutoGuideList.append: a guide must be callable, got {type(part).__name__}")
        self.parts.append(part)

    def add(self, part):
        self.append(part)

    def __len__(self):
        return len(self.parts)

    def __getitem__(self, index):
        return self.parts[index]

    def __call__(self, *args, **kwargs):
        if not self.parts:
            raise ValueError(f"{self.__name__} has no guides yet: append one per group of sites, e.g. "
                             "guide.append(AutoNormal(poutine.block(model, expose=['a'])))")
        result = {}
        for part in self.parts:
            values = part(*args, **kwargs)
            if values:
                result.update(values)
        return result

    def median(self, *args, **kwargs):
        """Every part's medians, merged (parts without ``median`` are skipped)."""
        result = {}
        for part in self.parts:
            if hasattr(part, "median"):
                result.update(part.median(*args, **kwargs))
        return result
