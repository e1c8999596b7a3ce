"""The runs of a posterior, stored compactly: one column per site, plus log-weights and chain ids.

An inference run makes many runs of a model, and a marginal or a live view needs only each run's site
values and its weight, not the trace objects. Keeping every trace costs kilobytes per run and makes
Python's garbage collector rescan them all; a column costs 16 bytes per scalar value (the value as a
double, and the run it belongs to), so a million runs of a two-site model fit in tens of megabytes.

- A column of tensors of one shape and dtype (the common case: every run's ``x`` is a 0-d float, or a
  ``[1]`` long) keeps the numbers in an ``array('d')`` and gives them back as one stacked tensor of the
  original dtype and device. Anything else (strings, tuples, tensors whose shape changes) is kept as it is.
- A batched run (one vmapped execution of N runs) adds its site tensors as one block, without a copy.
- Adding a run is atomic: the run counts once :attr:`RunStore.num_runs` moves; a run interrupted half-way
  (Ctrl-C between two columns) is rolled back before anything reads the store or adds to it. A reader in
  another thread (a live view of a background run) sees the runs counted so far, never a half-added one:
  every read is bounded by ``num_runs``.

>>> import torch
>>> store = RunStore()
>>> store.add({"x": torch.tensor(1.5), "c": "heads"}, log_weight=0.0)
>>> store.add({"x": torch.tensor(2.5)}, log_weight=-1.0)
>>> store.num_runs, store.column("x").tensor(), store.column("c").runs()
(2, tensor([1.5000, 2.5000]), [0])
"""

import threading
from array import array
from bisect import bisect_left

import torch


class Column:
    """The values of one site over the runs that made it; ``rows[k]`` is the run of value ``k``."""

    __slots__ = ("name", "site", "rows", "numbers", "objects", "shape", "dtype", "device", "numel", "blocks")

    def __init__(self, name, site=None):
        self.name = name
        self.site = site  # the first site of this name (its kind and distribution), or None for plain values
        self.rows = array("q")
        self.numbers = None  # array('d') of flattened numeric values, while every value fits (shape, dtype)
        self.objects = None  # the values as they are, once one did not fit
        self.shape = self.dtype = self.device = None
        self.numel = 0
        self.blocks = []  # batched tensors: (first run, tensor with a leading run dimension)

    def __len__(self):
        return len(self.rows) + sum(len(t) for _, t in self.blocks)

    # ---- adding -----------------------------------------------------------------------------------
    def append(self, row, value):
        numbers = self.numbers
        if (numbers is not None and self.numel == 1 and type(value) is torch.Tensor and value.dtype is self.dtype
                and value.shape == self.shape and value.device == self.device and self.objects is None
                and not self.blocks):
            numbers.append(value.item())  # the common case first: one number more, as the ones before it
            self.rows.append(row)
            return
        if self.blocks:  # a sequential run after a batched block: keep it simple and general
            self._to_objects()
        if self.objects is None and type(value) is torch.Tensor and value.dtype is not torch.bool:
            if self.numbers is None and not self.rows:
                self.shape, self.dtype, self.device, self.numel = value.shape, value.dtype, value.device, value.numel()
                self.numbers = array("d")
            if value.shape == self.shape and value.dtype is self.dtype and value.device == self.device:
                if self.numel == 1:
                    self.numbers.append(value.item())
                elif self.numel:  # a factor's empty value has no numbers to keep
                    self.numbers.extend(value.detach().reshape(-1).tolist())
                self.rows.append(row)
                return
        if self.objects is None:
            self._to_objects()
        self.objects.append(value.detach() if isinstance(value, torch.Tensor) else value)
        self.rows.append(row)

    def append_last_again(self, row, times=1):
        """Append the last value again, as runs ``row, row + 1, ..., row + times - 1`` (a chain that stayed
        where it was for ``times`` steps)."""
        if self.blocks:
            self._to_objects()
        if self.objects is not None:
            self.objects.extend([self.objects[-1]] * times)
        elif self.numel == 1:
            self.numbers.extend(self.numbers[-1:] * times)
        else:
            self.numbers.extend(self.numbers[-self.numel:] * times)
        self.rows.extend(range(row, row + times))

    def add_block(self, first_row, tensor):
        """The values of runs ``first_row, first_row + 1, ...`` as one tensor with a leading run dimension."""
        if self.rows:
            self._to_objects()
            self.objects.extend(tensor.detach().unbind(0))
            self.rows.extend(range(first_row, first_row + len(tensor)))
        else:
            self.blocks.append((first_row, tensor.detach()))

    def extend(self, first_row, other):
        """Add the values of column ``other`` (of another store), its runs shifted by ``first_row``."""
        fits = (other.objects is None and not other.blocks and self.objects is None and not self.blocks
                and (self.numbers is None and not self.rows
                     or (other.shape, other.dtype, other.device) == (self.shape, self.dtype, self.device)))
        if fits and other.numbers is not None:  # numbers onto numbers: the arrays are joined, no tensors made
            if self.numbers is None:
                self.shape, self.dtype, self.device, self.numel = other.shape, other.dtype, other.device, other.numel
                self.numbers = array("d")
            self.numbers.extend(other.numbers)
            self.rows.extend(first_row + row for row in other.rows)
            return
        if other.blocks and not other.rows:  # batched blocks stay blocks while they can
            for first, tensor in other.blocks:
                self.add_block(first_row + first, tensor)
            return
        for row, value in zip(other.row_list(), other.values(), strict=True):
            self.append(first_row + row, value)

    def _to_objects(self):
        if self.objects is not None and not self.blocks:
            return
        values = self.values()
        rows = self.row_list()
        self.numbers, self.blocks = None, []
        self.objects, self.rows = list(values), array("q", rows)

    def truncate(self, num_runs):
        """Drop values of runs ``>= num_runs`` (a half-added run)."""
        keep = bisect_left(self.rows, num_runs)
        if keep < len(self.rows):
            del self.rows[keep:]
            if self.objects is not None:
                del self.objects[keep:]
            else:
                del self.numbers[keep * self.numel:]
        self.blocks = [(first, t[: max(0, num_runs - first)]) for first, t in self.blocks if first < num_runs]

    # ---- reading ----------------------------------------------------------------------------------
    @property
    def kind(self):
        """The site's kind (:attr:`ppl_kernel.runtime.Site.kind`); ``None`` for values not from a site."""
        return None if self.site is None else self.site.kind

    @property
    def is_numeric(self):
        """True when every value is a tensor of one shape and dtype (they stack into one tensor)."""
        return self.objects is None

    def tensor(self, stop=None):
        """The values of runs before ``stop`` (default: all) stacked: shape ``(count,) + value shape``, in
        the values' dtype and device."""
        if self.objects is not None:
            return torch.stack([torch.as_tensor(v) for v in self.values(stop)])
        if self.blocks:
            # cat copies even one block: a reader that changes the tensor in place must not change the store
            return torch.cat([t[: max(0, stop - first)] if stop is not None else t for first, t in self.blocks])
        count = self._count(stop)
        n = self.numel
        numbers = torch.tensor(self.numbers[: count * n], dtype=torch.float64) if count else torch.zeros(0, dtype=torch.float64)
        shape = (count,) + tuple(self.shape or ())
        return numbers.reshape(shape).to(dtype=self.dtype or torch.get_default_dtype(), device=self.device)

    def _count(self, stop):
        return len(self.rows) if stop is None else bisect_left(self.rows, stop)

    def values(self, stop=None):
        """The values of runs before ``stop`` (default: all) as a list (tensors are rows of :meth:`tensor`)."""
        if self.objects is not None:
            return self.objects[: self._count(stop)]
        return list(self.tensor(stop).unbind(0)) if len(self) else []

    def row_list(self, stop=None):
        rows = list(self.rows[: self._count(stop)])
        for first, t in self.blocks:
            last = first + len(t) if stop is None else min(first + len(t), stop)
            rows.extend(range(first, last))
        return rows

    def runs(self, stop=None):
        """The runs before ``stop`` (default: all) that made this site, in order (a list of run indices)."""
        return self.row_list(stop)

    def count(self, stop=None):
        """How many runs before ``stop`` (default: all) made this site: ``len(runs(stop))`` without the list
        (a batched block of a million runs would be a million Python ints)."""
        total = self._count(stop)
        for first, t in self.blocks:
            last = first + len(t) if stop is None else min(first + len(t), stop)
            total += max(0, last - first)
        return total

    def slice(self, start, stop):
        """``(runs, values)`` of the runs ``start <= run < stop`` that made this site."""
        runs, values = [], []
        lo, hi = bisect_left(self.rows, start), bisect_left(self.rows, stop)
        if hi > lo:
            runs.extend(self.rows[lo:hi])
            if self.objects is not None:
                values.extend(self.objects[lo:hi])
            else:
                n = self.numel
                flat = torch.tensor(self.numbers[lo * n:hi * n], dtype=torch.float64)
                values.extend(flat.reshape((hi - lo,) + tuple(self.shape)).to(device=self.device, dtype=self.dtype).unbind(0))
        for first, t in self.blocks:
            a, b = max(start, first), min(stop, first + len(t))
            if b > a:
                runs.extend(range(a, b))
                values.extend(t[a - first:b - first].unbind(0))
        return runs, values

    def numbers_between(self, start, stop):
        """``(runs, values)`` of the runs ``start <= run < stop`` that made this site, read without a tensor
        per value (what a live view takes a few times a second): ``runs`` a long tensor, ``values`` a float64
        CPU tensor of shape ``(count, numel)``. None when the values are not all numbers of one size (strings,
        tuples, a shape that changed) or are booleans: :meth:`slice` gives those one by one.

        >>> column = Column("x")
        >>> for run, x in enumerate([0.5, 1.5, 2.5]):
        ...     column.append(run, torch.tensor(x))
        >>> column.numbers_between(1, 3)
        (tensor([1, 2]), tensor([[1.5000],
                [2.5000]], dtype=torch.float64))
        """
        if self.objects is not None:
            return None
        runs, values = [], []
        if self.numbers is not None and len(self.rows):
            n = self.numel
            lo, hi = bisect_left(self.rows, start), bisect_left(self.rows, stop)
            if hi > lo:  # slices of the arrays are copies: the sampling thread may append to them meanwhile
                runs.append(torch.frombuffer(self.rows[lo:hi], dtype=torch.long).clone())
                values.append(torch.frombuffer(self.numbers[lo * n:hi * n], dtype=torch.float64).clone().reshape(hi - lo, n))
        for first, t in self.blocks:
            a, b = max(start, first), min(stop, first + len(t))
            if b > a:
                if t.dtype == torch.bool:
                    return None
                runs.append(torch.arange(a, b))
                values.append(t[a - first:b - first].detach().reshape(b - a, -1).to("cpu", torch.float64))
        if not runs:
            return torch.zeros(0, dtype=torch.long), torch.zeros(0, max(self.numel, 1), dtype=torch.float64)
        if len({v.shape[1] for v in values}) > 1:
            return None
        return torch.cat(runs), torch.cat(values)

    def value_at(self, run):
        """The value of run ``run``, or KeyError if that run did not make this site."""
        for first, t in self.blocks:
            if first <= run < first + len(t):
                return t[run - first]
        k = bisect_left(self.rows, run)
        if k == len(self.rows) or self.rows[k] != run:
            raise KeyError(run)
        if self.objects is not None:
            return self.objects[k]
        n = self.numel
        flat = torch.tensor(self.numbers[k * n:(k + 1) * n], dtype=torch.float64)
        return flat.reshape(self.shape).to(dtype=self.dtype, device=self.device)

    def nbytes(self):
        """Approximate memory of the stored values (for the memory bench)."""
        size = self.rows.itemsize * len(self.rows)
        if self.numbers is not None:
            size += self.numbers.itemsize * len(self.numbers)
        if self.objects is not None:
            size += 8 * len(self.objects) + sum(_object_bytes(v) for v in self.objects)
        size += sum(t.element_size() * t.numel() for _, t in self.blocks)
        return size


def _object_bytes(value):
    if isinstance(value, torch.Tensor):
        return value.element_size() * value.numel() + 64
    return 32


class RunStore:
    """Columns of site values, one per name, and the runs' log-weights and chain ids.

    ``add(values, log_weight, chain_id)`` adds one run (``values`` maps names to values);
    ``add_block(values, log_weights, chain_ids)`` adds a batched run (tensors with a leading run dimension).
    Weights and chain ids are kept in segments: runs added one by one share an ``array``; a batch keeps
    its tensors as they are, so adding 100,000 batched runs costs no per-run Python work.
    """

    def __init__(self):
        self.columns = {}
        self._segments = []  # [first run, log-weights (array('d') or tensor), chain ids (array('q') or tensor)]
        self._committed = 0
        self._adding = None  # the thread adding a run right now, if any

    @property
    def num_runs(self):
        self._settle()
        return self._committed

    def __len__(self):
        return self.num_runs

    def add(self, values, log_weight=0.0, chain_id=0, sites=None):
        """Add one run. ``sites`` (optional) maps names to their sites, the first of which a column keeps."""
        self._settle()
        self._adding = threading.get_ident()  # set before, cleared after: an interrupt in between leaves it set
        row = self._committed
        columns = self.columns
        for name, value in values.items():
            column = columns.get(name)
            if column is None:
                column = columns[name] = Column(name, sites.get(name) if sites else None)
            column.append(row, value)
        segments = self._segments
        if not segments or type(segments[-1][1]) is not array:
            segments.append([row, array("d"), array("q")])
        segment = segments[-1]
        segment[1].append(log_weight)
        segment[2].append(chain_id)
        self._committed = row + 1
        self._adding = None

    def add_last_again(self, times=1):
        """Add the last run again, ``times`` times: the same values, log-weight and chain id (an MCMC chain that
        stayed in its state for ``times`` steps), without reading its values anew. The cost of a repeat is a few
        array appends, whatever ``times`` is.

        >>> store = RunStore()
        >>> store.add({"x": torch.tensor(1.5)}, log_weight=-1.0, chain_id=3)
        >>> store.add_last_again(times=2)
        >>> store.column("x").tensor(), store.log_weight_list(), store.chain_id_list()
        (tensor([1.5000, 1.5000, 1.5000]), [-1.0, -1.0, -1.0], [3, 3, 3])
        """
        if times < 1:
            return
        self._settle()
        row = self._committed
        if not row:
            raise ValueError("RunStore.add_last_again: the store holds no run to repeat")
        self._adding = threading.get_ident()
        for column in self.columns.values():
            rows = column.rows
            if rows and rows[-1] == row - 1 and not column.blocks:
                column.append_last_again(row, times)
            elif column.blocks and column.blocks[-1][0] + len(column.blocks[-1][1]) == row:
                column.append_last_again(row, times)
        segments = self._segments
        last = segments[-1]
        logw, ids = float(last[1][-1]), int(last[2][-1])
        if type(last[1]) is not array:
            segments.append([row, array("d"), array("q")])
        segments[-1][1].extend(array("d", (logw,)) * times)
        segments[-1][2].extend(array("q", (ids,)) * times)
        self._committed = row + times
        self._adding = None

    def add_block(self, values, log_weights, chain_ids=0, sites=None):
        """Add ``len(log_weights)`` runs of one batched execution: ``values[name]`` has a leading run dimension;
        ``chain_ids`` is one id for all of them or a tensor of one per run."""
        self._settle()
        self._adding = threading.get_ident()
        first, n = self._committed, int(log_weights.shape[0])
        for name, value in values.items():
            column = self.columns.get(name)
            if column is None:
                column = self.columns[name] = Column(name, sites.get(name) if sites else None)
            column.add_block(first, value)
        # one id for all: a view of one number, not n copies
        ids = chain_ids if isinstance(chain_ids, torch.Tensor) else torch.full((1,), int(chain_ids), dtype=torch.long).expand(n)
        self._segments.append([first, log_weights.detach(), ids.detach()])
        self._committed = first + n
        self._adding = None

    def extend(self, other, chain_offset=0):
        """Add every run of ``other`` after this store's runs, chain ids shifted by ``chain_offset``.

        How runs made apart (a chunk of a run, in another process) join one posterior; the values, weights
        and chains come out as if the runs had been added here one by one.
        """
        self._settle()
        n = other.num_runs
        self._adding = threading.get_ident()
        first = self._committed
        for name, column in other.columns.items():
            mine = self.columns.get(name)
            if mine is None:
                mine = self.columns[name] = Column(name, column.site)
            mine.extend(first, column)
        for start, logw, ids in other._segments:
            count = min(len(logw), n - start)
            if count <= 0:
                continue
            if type(logw) is array:
                chains = array("q", (chain + chain_offset for chain in ids[:count]))
                self._segments.append([first + start, array("d", logw[:count]), chains])
            else:
                self._segments.append([first + start, logw[:count], ids[:count] + chain_offset])
        self._committed = first + n
        self._adding = None

    def _settle(self):
        """Roll back a run whose adding was interrupted, so that every column agrees with num_runs."""
        adder = self._adding
        if adder is None:
            return
        if adder != threading.get_ident() and any(t.ident == adder for t in threading.enumerate()):
            return  # another thread is adding a run right now: not interrupted, just not counted yet
        n = self._committed
        for column in self.columns.values():
            column.truncate(n)
        self._segments = [s for s in self._segments if s[0] < n]
        if self._segments and type(self._segments[-1][1]) is array:
            first, logw, ids = self._segments[-1]
            del logw[n - first:], ids[n - first:]
        self._adding = None

    def clear(self):
        self.__init__()

    # ---- reading ------------------------------------------------------------------------------------
    def column(self, name):
        self._settle()
        return self.columns.get(name)

    def names(self):
        self._settle()
        return list(self.columns)

    def _parts(self, index):
        """The committed runs' log-weights (index 1) or chain ids (index 2), one tensor per segment: each a copy
        of its own (a reader may change it in place)."""
        self._settle()
        n, parts = self._committed, []
        dtype = torch.float64 if index == 1 else torch.long
        for segment in self._segments:
            first, data = segment[0], segment[index]
            count = min(len(data), n - first)
            if count <= 0:
                continue
            if type(data) is array:
                parts.append(torch.frombuffer(data, dtype=dtype)[:count].clone())
            else:
                parts.append(data[:count].to(dtype=dtype, device="cpu", copy=True))
        return parts

    def log_weight_tensor(self):
        """The runs' log-weights as one float64 tensor (on the CPU)."""
        parts = self._parts(1)
        if len(parts) == 1:  # a copy already: concatenating would copy it again
            return parts[0]
        return torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64)

    def log_weight_list(self):
        return self.log_weight_tensor().tolist()

    def chain_id_list(self):
        parts = self._parts(2)
        return torch.cat(parts).tolist() if parts else []

    def values_of_run(self, run):
        """``{name: value}`` of one run (the sites it made)."""
        out = {}
        for name, column in self.columns.items():
            try:
                out[name] = column.value_at(run)
            except KeyError:
                pass
        return out

    def nbytes(self):
        self._settle()
        size = sum(c.nbytes() for c in self.columns.values())
        for _, logw, ids in self._segments:
            for data in (logw, ids):
                size += data.itemsize * len(data) if type(data) is array else data.element_size() * data.numel()
        return size


_UNKNOWN = array("d", (float("nan"),))


class LogJoints:
    """log p(x, data) of the runs where the algorithm knew it (MH's states, Enumerate's paths), by run index: one
    float a run in an array (NaN: not known), grown only as far as the last run that has one, so that a chain
    of a million steps costs 8 MB here, not a dict entry per step.

    >>> joints = LogJoints()
    >>> joints[2] = -1.5
    >>> joints.repeat(3, times=2)  # runs 3 and 4 repeat run 2
    >>> joints.get(0), joints[4], dict(joints.items())
    (None, -1.5, {2: -1.5, 3: -1.5, 4: -1.5})
    """

    __slots__ = ("values",)

    def __init__(self):
        self.values = array("d")

    def __setitem__(self, run, log_joint):
        values = self.values
        if run < len(values):
            values[run] = log_joint
            return
        if run > len(values):
            values.extend(_UNKNOWN * (run - len(values)))
        values.append(log_joint)

    def get(self, run, default=None):
        if 0 <= run < len(self.values):
            value = self.values[run]
            if value == value:
                return value
        return default

    def __getitem__(self, run):
        value = self.get(run)
        if value is None:
            raise KeyError(run)
        return value

    def __contains__(self, run):
        return self.get(run) is not None

    def repeat(self, run, times):
        """Runs ``run, ..., run + times - 1`` repeat run ``run - 1``: they take its log-joint, if it is known."""
        value = self.get(run - 1)
        if value is None:
            return
        self[run] = value
        self.values.extend(array("d", (value,)) * (times - 1))

    def items(self):
        """``(run, log-joint)`` for each run whose log-joint is known, in run order."""
        return ((run, value) for run, value in enumerate(self.values) if value == value)
