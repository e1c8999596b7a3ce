"""A live panel's histogram is kept frame by frame: binning only the new runs gives the same counts
as binning every run at once, also when the range grows and bins merge."""

import numpy as np
import pytest

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel.infer import Importance

from ppl_kernel_jupyter.histogram_data import HistogramData


def widening():
    """x ~ Normal(0, 0.1) in the first 300 runs, then ten and a hundred times wider."""
    widening.runs += 1
    return pyro.sample("x", dist.Normal(0.0, 0.1 * 10 ** ((widening.runs - 1) // 300)))


def test_frame_by_frame_counts_equal_counts_from_scratch_as_the_range_grows():
    pyro.set_rng_seed(0)
    widening.runs = 0
    store = Importance(widening, num_samples=900).run().store  # the bin width doubles several times
    values = store.column("x").tensor().tolist()
    weights = np.random.default_rng(0).uniform(0.5, 1.5, len(values)).tolist()
    live = HistogramData()
    widths = []
    for start in range(0, len(values), 100):
        live.add_runs(store, start, start + 100, weights[start:start + 100])
        edges = live.state()["panels"][0]["edges"]  # a frame: bins the runs added since the last one
        widths.append(edges[2] - edges[1])
    assert widths[-1] >= 8 * widths[0]  # bins merged in pairs at least three times
    panel = next(p for p in live.state()["panels"] if p["name"] == "x")
    expected, _ = np.histogram(values, bins=np.array(panel["edges"]), weights=weights)
    assert panel["counts"] == pytest.approx(expected.tolist(), rel=1e-9, abs=1e-9)
