"""A real IPython shell with the extension loaded, shared by the extension tests."""

import textwrap

import pytest
from IPython import get_ipython
from IPython.testing.globalipapp import start_ipython

# The seed tutorial's models, written as %%model cells (the body is the function's body).
WEATHER = textwrap.dedent("""\
    %%model weather {opts}
    cloudy = pyro.sample('cloudy', dist.bernoulli, Variable(torch.Tensor([0.3])))
    cloudy = 'cloudy' if cloudy.data[0] == 1.0 else 'sunny'
    mean_temp = {{'cloudy': [55.0], 'sunny': [75.0]}}[cloudy]
    sigma_temp = {{'cloudy': [10.0], 'sunny': [15.0]}}[cloudy]
    temp = pyro.sample('temp', dist.normal,
                       Variable(torch.Tensor(mean_temp)),
                       Variable(torch.Tensor(sigma_temp)))
    return cloudy, temp.data[0]
""")

ICE_CREAM = textwrap.dedent("""\
    %%model ice_cream_sales {opts}
    cloudy, temp = weather()
    expected_sales = [200] if cloudy == 'sunny' and temp > 80.0 else [50]
    ice_cream = pyro.sample('ice_cream', dist.normal,
                            Variable(torch.Tensor(expected_sales)),
                            Variable(torch.Tensor([10.0])))
    return ice_cream
""")

GEOMETRIC = textwrap.dedent("""\
    %%model geometric(p, t=None) {opts}
    if t is None:
        t = 0
    x = pyro.sample("x_{{}}".format(t), dist.bernoulli, p)
    if torch.equal(x.data, torch.zeros(1)):
        return x
    else:
        return x + geometric(p, t+1)
""")

NORMAL_PRODUCT = textwrap.dedent("""\
    %%model normal_product(mu, sigma) {opts}
    z1 = pyro.sample("z1", dist.normal, mu, sigma)
    z2 = pyro.sample("z2", dist.normal, mu, sigma)
    y = z1 * z2
    return y
""")

MAKE_NORMAL_NORMAL = textwrap.dedent("""\
    %%model make_normal_normal {opts}
    mu_latent = pyro.sample("mu_latent", dist.normal,
                            Variable(torch.zeros(1)),
                            Variable(torch.ones(1)))
    fn = lambda sigma: normal_product(mu_latent, sigma)
    return fn
""")


@pytest.fixture(scope="session")
def _ipython():
    ip = start_ipython() or get_ipython()  # None when a docstring example started the global shell first
    ip.run_line_magic("load_ext", "ppl_kernel")
    return ip


@pytest.fixture
def shell(_ipython):
    """The shell, with torch and Variable imported as in the seed, and no runs left from other tests."""
    ip = _ipython
    ip.run_cell("import torch\nfrom torch.autograd import Variable", store_history=False)
    magics = ip.magics_manager.registry["ModelMagics"]
    for run in magics.runs:
        run.stop()
        run.wait(10)
    magics.runs.clear()
    magics.trees.clear()
    yield ip
    for run in magics.runs:
        run.stop()
        run.wait(10)


def cell(shell, text, **opts):
    """Run a cell; fail the test with the error if it raised."""
    result = shell.run_cell(text)
    if result.error_before_exec or result.error_in_exec:
        raise AssertionError(f"cell failed: {result.error_before_exec or result.error_in_exec!r}\n{text}")
    return result


def last_run(shell):
    return shell.magics_manager.registry["ModelMagics"].runs[-1]
