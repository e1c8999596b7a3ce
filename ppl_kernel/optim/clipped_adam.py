"""``ClippedAdam``: Adam with each gradient clipped element-wise and a per-step learning-rate decay.

Pyro's ClippedAdam, written as a plain ``torch.optim.Optimizer``: clipping keeps one wild
score-function gradient from throwing a parameter far away, and ``lrd`` shrinks the step a
little every call (``lr_t = lr * lrd**t``) so that the end of a run settles down.
"""

import math

import torch


class ClippedAdam(torch.optim.Optimizer):
    """Adam whose gradients are clamped to ``[-clip_norm, clip_norm]`` and whose ``lr`` is multiplied by ``lrd`` each step.

    >>> import torch
    >>> p = torch.tensor(1.0, requires_grad=True)
    >>> opt = ClippedAdam([p], lr=0.1, clip_norm=1.0, lrd=0.5)
    >>> p.grad = torch.tensor(100.0)  # clipped to 1.0 before Adam sees it
    >>> opt.step()  # the first step already uses lr * lrd, and Adam's first step is lr-sized
    >>> round(p.item(), 4), opt.param_groups[0]["lr"]
    (0.95, 0.05)
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, clip_norm=10.0, lrd=1.0):
        if not lr > 0:
            raise ValueError(f"ClippedAdam: lr must be positive, got {lr}")
        if not clip_norm > 0:
            raise ValueError(f"ClippedAdam: clip_norm must be positive, got {clip_norm}")
        if not 0 < lrd <= 1:
            raise ValueError(f"ClippedAdam: lrd (the per-step decay of lr) must be in (0, 1], got {lrd}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, clip_norm=clip_norm, lrd=lrd)
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            group["lr"] = lr = group["lr"] * group["lrd"]  # decay first, as Pyro does
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.clamp(-group["clip_norm"], group["clip_norm"])
                if group["weight_decay"]:
                    grad = grad.add(p, alpha=group["weight_decay"])
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                t = state["step"]
                exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
                exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
                exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                # Bias-corrected step, as in Adam.
                step_size = lr * math.sqrt(1 - beta2**t) / (1 - beta1**t)
                p.addcdiv_(exp_avg, exp_avg_sq.sqrt().add_(group["eps"]), value=-step_size)
        return loss
