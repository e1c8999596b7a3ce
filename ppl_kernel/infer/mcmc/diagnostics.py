"""How far to trust MCMC draws: effective sample size, split R-hat, highest-density intervals.

Estimators as Stan's (and Pyro's ``pyro.ops.stats``): the autocorrelation of each chain by FFT,
combined across chains, truncated by Geyer's initial monotone sequence; R-hat on chains split in
halves, so that a chain that drifts is caught even when there is only one.
"""

import math

import torch


def _autocovariance(x):
    """Biased autocovariance of each row of ``x`` (chains x draws), by FFT."""
    n = x.shape[-1]
    centered = x - x.mean(-1, keepdim=True)
    size = 2 ** math.ceil(math.log2(2 * n))
    f = torch.fft.rfft(centered, n=size)
    acov = torch.fft.irfft(f * f.conj(), n=size)[..., :n]
    return acov / n


def effective_sample_size(x, chain_dim=0, sample_dim=1):
    """Effective sample size of draws ``x`` (chains x draws x ...), element-wise over the rest.

    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> ess = effective_sample_size(torch.randn(4, 1000))
    >>> 3000 < ess.item() < 5000
    True
    """
    x = x.transpose(0, chain_dim) if chain_dim != 0 else x
    dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
    x = x.to(torch.float64)
    chains, n = x.shape[0], x.shape[1]
    flat = x.reshape(chains, n, -1).permute(2, 0, 1)  # elements x chains x draws
    acov = _autocovariance(flat)
    chain_var = acov[..., 0] * n / max(n - 1, 1)
    within = chain_var.mean(-1)
    var_plus = within * (n - 1) / n
    if chains > 1:
        var_plus = var_plus + flat.mean(-1).var(-1)
    rho = 1.0 - (within.unsqueeze(-1) - acov.mean(-2)) / var_plus.unsqueeze(-1)
    rho[..., 0] = 1.0
    # Geyer: sums of adjacent pairs, cut at the first negative one, made monotone.
    pairs = rho[..., : (n // 2) * 2].reshape(rho.shape[0], -1, 2).sum(-1)
    positive = (pairs > 0).to(torch.int64).cumprod(-1).to(torch.bool)
    pairs = torch.where(positive, pairs, torch.zeros_like(pairs))
    pairs = torch.cummin(pairs, dim=-1).values
    tau = -1.0 + 2.0 * pairs.sum(-1)
    ess = chains * n / tau.clamp(min=1.0 / math.log10(max(chains * n, 10)))
    constant = var_plus <= 0  # a constant chain: nothing to estimate
    ess = torch.where(constant, torch.full_like(ess, float("nan")), ess)
    return ess.reshape(x.shape[2:]).to(dtype)


def split_gelman_rubin(x, chain_dim=0, sample_dim=1):
    """Split R-hat of draws ``x`` (chains x draws x ...): near 1 when the chains agree (Stan: < 1.01).

    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> split_gelman_rubin(torch.randn(2, 1000)).item() < 1.01
    True
    """
    x = x.transpose(0, chain_dim) if chain_dim != 0 else x
    dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
    x = x.to(torch.float64)
    n = x.shape[1]
    half = n // 2
    split = torch.cat([x[:, :half], x[:, n - half:]], dim=0)
    n = half
    chain_means = split.mean(1)
    within = split.var(1).mean(0)
    between = n * chain_means.var(0)
    var_plus = (n - 1) / n * within + between / n
    return (var_plus / within).sqrt().to(dtype)


def hpdi(x, prob=0.9, dim=0):
    """The shortest interval holding ``prob`` of the draws along ``dim``: ``(lower, upper)``."""
    x = x.sort(dim=dim).values
    n = x.shape[dim]
    width = max(1, min(n - 1, int(math.floor(prob * n))))
    lows = x.narrow(dim, 0, n - width)
    highs = x.narrow(dim, width, n - width)
    best = (highs - lows).argmin(dim=dim, keepdim=True)
    return lows.gather(dim, best).squeeze(dim), highs.gather(dim, best).squeeze(dim)


def summary(samples, prob=0.9, group_by_chain=True):
    """Per site: mean, std, median, the ``prob`` highest-density interval, n_eff and r_hat (Pyro's keys).

    ``samples`` maps site names to draws shaped ``chains x draws x ...`` (``group_by_chain=True``)
    or ``draws x ...``.

    >>> import torch
    >>> _ = torch.manual_seed(0)
    >>> stats = summary({"x": torch.randn(2, 500)})
    >>> sorted(stats["x"])
    ['5.0%', '95.0%', 'mean', 'median', 'n_eff', 'r_hat', 'std']
    """
    out = {}
    low_key, high_key = f"{50 * (1 - prob):.1f}%", f"{50 * (1 + prob):.1f}%"
    for name, value in samples.items():
        value = value if torch.is_tensor(value) else torch.as_tensor(value)
        value = value.to(torch.get_default_dtype()) if not value.is_floating_point() else value
        if not group_by_chain:
            value = value.unsqueeze(0)
        flat = value.reshape((-1,) + value.shape[2:])
        low, high = hpdi(flat, prob)
        out[name] = {
            "mean": flat.mean(0),
            "std": flat.std(0),
            "median": flat.median(0).values,
            low_key: low,
            high_key: high,
            "n_eff": effective_sample_size(value),
            "r_hat": split_gelman_rubin(value),
        }
    return out


def format_summary(samples, prob=0.9, group_by_chain=True):
    """The table ``print_summary`` prints: one row per scalar element of each site."""
    stats = summary(samples, prob, group_by_chain)
    if not stats:
        return ""
    columns = list(next(iter(stats.values())))
    rows = []
    for name, site_stats in stats.items():
        shape = site_stats["mean"].shape
        if not shape:
            rows.append((name, [float(site_stats[c]) for c in columns]))
            continue
        for index in _indices(shape):
            label = f"{name}[{','.join(str(i) for i in index)}]"
            rows.append((label, [float(site_stats[c][index]) for c in columns]))
    name_width = max(len(r[0]) for r in rows) + 2
    header = " " * name_width + "".join(f"{c:>10}" for c in columns)
    lines = [header]
    for label, values in rows:
        lines.append(f"{label:>{name_width}}" + "".join(f"{v:>10.2f}" for v in values))
    return "\n".join(lines)


def _indices(shape):
    if not shape:
        yield ()
        return
    for i in range(shape[0]):
        for rest in _indices(shape[1:]):
            yield (i,) + rest


def print_summary(samples, prob=0.9, group_by_chain=True):
    """Print :func:`summary` as a table, one row per scalar element of each site."""
    print("\n" + format_summary(samples, prob, group_by_chain) + "\n")
