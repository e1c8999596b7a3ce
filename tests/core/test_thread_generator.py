"""A thread may draw from its own torch.Generator (a background run's randomness), untouched by seeding elsewhere."""

import sys
import threading

import torch

import ppl_kernel as pyro
import ppl_kernel.distributions as dist
from ppl_kernel import poutine
from ppl_kernel.settings import drawing_from


def model():
    a = pyro.sample("a", dist.Normal(0.0, 1.0))  # the fast scalar families
    b = pyro.sample("b", dist.Bernoulli(0.5))
    c = pyro.sample("c", dist.Uniform(0.0, 1.0))
    d = pyro.sample("d", dist.Gamma(torch.tensor(2.0), torch.tensor(1.0)))  # torch's own sampler
    e = pyro.sample("e", dist.Normal(torch.zeros(3), torch.ones(3)))
    return [a.item(), b.item(), c.item(), d.item()] + e.tolist()


def draws(seed, n=20, between=None):
    out = []
    with drawing_from(torch.Generator().manual_seed(seed)):
        for _ in range(n):
            out.append(model())
            if between is not None:
                between()
    return out


def test_runs_drawing_from_a_seeded_generator_repeat():
    assert draws(3) == draws(3)
    assert draws(3) != draws(4)


def test_reseeding_the_default_generator_does_not_rewind_a_threads_own_generator():
    assert draws(3, between=lambda: pyro.set_rng_seed(0)) == draws(3)
    assert draws(3, between=lambda: poutine.seed(model, rng_seed=0)()) == draws(3)


def test_drawing_from_a_threads_generator_leaves_the_default_generator_as_it_was():
    pyro.set_rng_seed(11)
    state = torch.get_rng_state()
    draws(3)
    assert torch.equal(torch.get_rng_state(), state)


def test_a_background_thread_repeats_while_the_main_thread_seeds_and_draws():
    expected = draws(5, n=300)
    result = []
    worker = threading.Thread(target=lambda: result.append(draws(5, n=300)))
    worker.start()
    while worker.is_alive():
        pyro.set_rng_seed(1)
        model()
    worker.join()
    assert result[0] == expected


def test_lock_free_draws_on_the_default_generator_never_mix_with_a_borrowing_thread():
    # The main thread draws the fast families from torch's default generator without a lock, while a
    # background thread borrows that generator (Gamma has no fast sampler: its draws run torch's own
    # sampler with the thread's generator swapped in). Had one main-thread draw landed inside a borrow, it
    # would have taken a number from the background stream (and the restore would have rewound the main
    # one): both sequences must equal the ones each thread draws alone.
    def main_draws(n):
        pyro.set_rng_seed(0)
        return [(pyro.sample("a", dist.Normal(0.0, 1.0)).item(), pyro.sample("b", dist.Bernoulli(0.5)).item())
                for _ in range(n)]

    def borrowed_draws(n):
        with drawing_from(torch.Generator().manual_seed(5)):
            return [pyro.sample("g", dist.Gamma(torch.tensor(2.0), torch.tensor(1.0))).item() for _ in range(n)]

    main_alone, background_alone = main_draws(4000), borrowed_draws(400)
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # hand the GIL over as often as possible: many chances to interleave
    try:
        result = []
        worker = threading.Thread(target=lambda: result.append(borrowed_draws(400)))
        worker.start()
        main_together = main_draws(4000)
        worker.join()
    finally:
        sys.setswitchinterval(switch)
    assert result[0] == background_alone
    assert main_together == main_alone
