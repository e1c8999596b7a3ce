"""Sum out enumerated variables exactly: log-space factors with named dimensions, eliminated one
variable at a time, respecting plates.

A :class:`Factor` is a tensor of log-values whose every dimension has a name: a plate's name (one
entry per element of the plate) or an enumerated site's name (one entry per value of that site).
Dimensions of size 1 are dropped, so that factors of any origin combine by name, not by position;
this is what lets a ``markov`` chain reuse one tensor dimension for many sites.

:func:`contract_tree` takes factors grouped by *ordinal* (the set of plates they sit in) and sums
out the given variables: a variable is summed where its ordinal's factors meet (variable elimination,
smallest intermediate first), and a result that still depends on a more global variable is summed
over (multiplied across) the plates that variable is outside of, then handed to the enclosing
ordinal. This is the plated sum-product of Pyro's ``contract_tensor_tree`` (Obermeyer et al. 2019,
"Tensor variable elimination for plated factor graphs"), written from the paper's description.

>>> import torch
>>> # log p(x) for a fair coin x and log p(y=obs | x) for 3 data in plate "data"
>>> px = Factor(torch.tensor([0.5, 0.5]).log(), ("x",))
>>> py = Factor(torch.tensor([[0.9, 0.8, 0.9], [0.2, 0.1, 0.3]]).log(), ("x", "data"))
>>> tree = contract_tree({frozenset(): [px], frozenset({"data"}): [py]}, {"x": frozenset()})
>>> round(sum(f.tensor.sum() for fs in tree.values() for f in fs).exp().item(), 4)  # 0.5*0.648 + 0.5*0.006
0.327
"""

import itertools

import torch

from ..errors import EnumerationError


class Factor:
    """A tensor of log-values and the name of each of its dimensions (a tuple of str, one per dim)."""

    __slots__ = ("tensor", "names")

    def __init__(self, tensor, names):
        if tensor.dim() != len(names):
            raise ValueError(f"Factor: {len(names)} names {names} for a tensor of shape {tuple(tensor.shape)}")
        self.tensor = tensor
        self.names = tuple(names)

    def size(self, name):
        return self.tensor.shape[self.names.index(name)]

    def aligned(self, names):
        """The tensor with dims ordered as ``names`` (a superset of ours), size 1 where we lack one."""
        if self.names == tuple(names):
            return self.tensor
        order = [self.names.index(n) for n in names if n in self.names]
        tensor = self.tensor.permute(order) if order != list(range(len(order))) else self.tensor
        shape = [self.tensor.shape[self.names.index(n)] if n in self.names else 1 for n in names]
        return tensor.reshape(shape)

    def logsumexp(self, names):
        dims = [self.names.index(n) for n in names if n in self.names]
        if not dims:
            return self
        return Factor(self.tensor.logsumexp(dims), [n for n in self.names if n not in names])

    def sum(self, names):
        dims = [self.names.index(n) for n in names if n in self.names]
        if not dims:
            return self
        return Factor(self.tensor.sum(dims), [n for n in self.names if n not in names])

    def index(self, name, value):
        """Fix variable ``name`` at ``value``: a Factor of integer indices over some of our other names (or new ones)."""
        if name not in self.names:
            return self
        names = [n for n in self.names if n != name] + [n for n in value.names if n not in self.names]
        tensor = self.aligned(names + [name])
        index = value.aligned(names).long()
        shape = torch.broadcast_shapes(tensor.shape[:-1], index.shape)
        tensor = tensor.expand(shape + tensor.shape[-1:])
        index = index.expand(shape).unsqueeze(-1)
        return Factor(tensor.gather(-1, index).squeeze(-1), names)

    def __repr__(self):
        return f"Factor({self.names}, shape={tuple(self.tensor.shape)})"


def product(factors):
    """The product of log-factors: their sum, broadcast over the union of their names."""
    if len(factors) == 1:
        return factors[0]
    names = tuple(dict.fromkeys(itertools.chain.from_iterable(f.names for f in factors)))
    total = None
    for f in factors:
        t = f.aligned(names)
        total = t if total is None else total + t
    return Factor(total, names)


def sumproduct(factors, sum_names):
    """Sum out ``sum_names`` from the product of ``factors`` (log space), one variable at a time,
    choosing next the variable whose elimination makes the smallest intermediate tensor."""
    factors = list(factors)
    pending = [n for n in sum_names if any(n in f.names for f in factors)]
    while pending:
        sizes = {}
        for f in factors:
            sizes.update(zip(f.names, f.tensor.shape, strict=True))

        def cost(name, factors=factors, sizes=sizes):
            size = 1
            for n in set(itertools.chain.from_iterable(f.names for f in factors if name in f.names)):
                size *= sizes[n]
            return size
        name = min(pending, key=cost)
        pending.remove(name)
        involved = [f for f in factors if name in f.names]
        factors = [f for f in factors if name not in f.names] + [product(involved).logsumexp((name,))]
    return product(factors)


def _components(terms, names):
    """Split ``terms`` into groups connected through the variables ``names`` (each group is summed alone)."""
    groups = []
    for term in terms:
        linked = [g for g in groups if g[1] & set(term.names) & names]
        merged = ([term], set(term.names) & names)
        for g in linked:
            groups.remove(g)
            merged = (g[0] + merged[0], g[1] | merged[1])
        groups.append(merged)
    for group_terms, _ in groups:  # keep the run order of the terms within each group
        group_terms.sort(key=lambda t: next(i for i, u in enumerate(terms) if u is t))
    return groups


def contract_tree(tree, ordinals, keep=()):
    """Sum out every variable of ``ordinals`` (name -> the frozenset of plates it sits in) except ``keep``.

    ``tree`` maps ordinals to lists of :class:`Factor`; names that are neither plates of a factor's
    ordinal nor in ``ordinals`` (a guide's enumerated sites) are carried along untouched. Returns a new
    tree whose factors depend on no summed variable; the log-sum of all of them is the log of the sum,
    over the summed variables, of the product of all the input factors (each plate a product).
    """
    tree = {ordinal: list(terms) for ordinal, terms in tree.items() if terms}
    result = {}
    while tree:
        leaf = max(tree, key=lambda o: (len(o), sorted(o)))
        terms = tree.pop(leaf)
        local = {n for n, o in ordinals.items() if o == leaf and n not in keep}
        for group, names in _components(terms, local):
            term = sumproduct(group, names)
            pending = [n for n in term.names if n in ordinals and (n not in local or n in keep)]
            if not any(n not in keep for n in pending):
                result.setdefault(leaf, []).append(term)
                continue
            parent = frozenset().union(*(ordinals[n] for n in pending))
            if parent == leaf:
                outer = sorted({n for n in pending if ordinals[n] != leaf})
                kept = sorted(n for n in pending if n in keep)
                if kept:
                    raise EnumerationError(
                        f"enumerated site {', '.join(repr(n) for n in kept)} shares a factor with enumerated sites "
                        f"{', '.join(repr(n) for n in outer)} outside its plates ({', '.join(sorted(leaf))}), so its "
                        "values are coupled across those plates and cannot be read per element on their own."
                    )
                raise EnumerationError(
                    f"enumerated sites {', '.join(repr(n) for n in outer)} sit in different plates "
                    f"({', '.join(sorted(leaf)) or 'none'}) and meet in one factor: enumeration needs the plates "
                    "of the sites a site depends on to nest. Make one of those plates a sequential plate "
                    "(for i in pyro.plate(...)), at a cost exponential in its size."
                )
            tree.setdefault(parent, []).append(term.sum([p for p in leaf - parent]))
    return result
