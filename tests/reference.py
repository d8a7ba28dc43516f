"""Slow, obviously-correct loop references of the specification, for tests only.

Every function works on one neuron at a time with Python floats, written
straight from the equations, so that it shares no code with the package.
"""

from __future__ import annotations

import math

import torch


def lif_neuron(current: list[float], tau_m: float, threshold: float, reset: str = "zero"):
    """Section 1 / 3 forward: returns lists u (before reset), du, s."""
    beta = 1.0 - 1.0 / tau_m
    u_post, us, dus, ss = 0.0, [], [], []
    for i in current:
        u = beta * u_post + i
        s = 1.0 if u > threshold else 0.0
        us.append(u)
        dus.append(u - u_post)
        ss.append(s)
        if reset == "zero":
            u_post = u * (1.0 - s)
        elif reset == "subtract":
            u_post = u - s * threshold
        else:
            u_post = u
    return us, dus, ss


def psc(spikes: list[float], tau_s: float) -> list[float]:
    """a[t] = a[t-1] + (s[t] - a[t-1]) / tau_s."""
    a, out = 0.0, []
    for s in spikes:
        a = a + (s - a) / tau_s
        out.append(a)
    return out


def kernel_transpose(grad_a: list[float], tau_s: float) -> list[float]:
    """g_s[t] = sum_k kappa[k] grad_a[t + k], by the explicit double sum."""
    n = len(grad_a)
    return [sum((1 / tau_s) * (1 - 1 / tau_s) ** k * grad_a[t + k] for k in range(n - t)) for t in range(n)]


def tssl_neuron_backward(
    grad_s: list[float],
    us: list[float],
    dus: list[float],
    ss: list[float],
    *,
    tau_m: float,
    tau_s: float,
    threshold: float,
    reset: str = "zero",
    max_inv_du: float = 8.0,
    warmup: bool = True,
    width: float = 0.2,
    reset_term: bool = True,
    warmup_keeps_timing: bool = False,
    grad_mem: list[float] | None = None,
) -> list[float]:
    """Sections 2 and 3 of the spec, one neuron, explicit case analysis.

    ``grad_mem``: a gradient on the membrane u[t] itself (a membrane loss), carried back through the
    plain leak beta * (du_hat/du) and added to dL/dI (the membrane stream H).
    """
    beta = 1.0 - 1.0 / tau_m
    n = len(us)
    a = psc(ss, tau_s)
    grad_i = [0.0] * n
    g_next = h_next = 0.0
    for t in range(n - 1, -1, -1):
        s, u, du = ss[t], us[t], dus[t]
        crossed_in_step = u - du <= threshold  # the membrane after the previous reset, u_hat[t-1], was not above V
        m = s * min(1.0 / du, max_inv_du) if du > 0 and crossed_in_step else 0.0
        if reset == "zero":
            d_reset, rho = 1.0 - s, u * s
        elif reset == "subtract":
            d_reset, rho = 1.0, threshold * s
        else:
            d_reset, rho = 1.0, 0.0
        c = beta * d_reset + (s * m * (1.0 - beta) * rho if reset_term else 0.0)
        if reset == "subtract" and reset_term:
            c = min(c, 1.0)  # the subtract reset carries at most what the non-leaky neuron does
        g = m * grad_s[t] + c * g_next
        h = (0.0 if grad_mem is None else grad_mem[t]) + beta * d_reset * h_next
        if warmup and a[t] < 1.0 / (4.0 * tau_s):
            z = min(max((u - threshold) / width, -8.0), 8.0)
            warm_value = math.exp(z) / (width * (1.0 + math.exp(z)) ** 2) * grad_s[t]
            grad_i[t] = warm_value + (g if warmup_keeps_timing else 0.0) + h
        else:
            grad_i[t] = g + h
        g_next, h_next = g, h
    return grad_i


def stock_lapicque_neuron(current: list[float], gain: float, leak: float, threshold: float, reset: str):
    """snnTorch 1.0's snn.Lapicque, one neuron: u[t] = gain I[t] + leak u[t-1] with its reset (by the
    spike of the membrane handed in, r; "zero" zeroes the whole update). Returns u, du, s as
    :func:`stock_leaky_neuron`."""
    handed, us, dus, ss = 0.0, [], [], []
    for i in current:
        r = 1.0 if handed > threshold else 0.0
        base = gain * i + leak * handed
        if reset == "zero":
            after_reset, u = handed * (1.0 - r), base * (1.0 - r)
        elif reset == "subtract":
            after_reset, u = handed - r * threshold, base - r * threshold
        else:
            after_reset, u = handed, base
        us.append(u)
        dus.append(u - after_reset)
        ss.append(1.0 if u > threshold else 0.0)
        handed = u
    return us, dus, ss


def per_neuron(fn, *tensors: torch.Tensor, **kwargs) -> torch.Tensor:
    """Apply a one-neuron list function to every neuron of time-first tensors [T, N]."""
    out = torch.empty_like(tensors[0], dtype=torch.float64)
    for j in range(tensors[0].shape[1]):
        columns = [x[:, j].double().tolist() for x in tensors]
        out[:, j] = torch.tensor(fn(*columns, **kwargs), dtype=torch.float64)
    return out


def stock_leaky_neuron(
    current: list[float], beta: float, threshold: float, reset: str, reset_delay: bool, drop_input: bool = False
):
    """snnTorch 1.0's snn.Leaky, one neuron: returns u (before reset), du = u[t] - u_hat[t-1], s.

    u_hat[t-1] is the membrane handed to step t minus what its own reset removes
    (u * r for "zero", V * r for "subtract", with r = 1[handed membrane > V]).
    ``drop_input``: snn.Synaptic's "zero" reset, which also zeroes that step's input.
    """
    handed, us, dus, ss = 0.0, [], [], []
    for i in current:
        r = 1.0 if handed > threshold else 0.0
        if reset == "zero":
            after_reset, u = handed * (1.0 - r), beta * handed * (1.0 - r) + i * (1.0 - r if drop_input else 1.0)
        elif reset == "subtract":
            after_reset, u = handed - r * threshold, beta * handed + i - r * threshold
        else:
            after_reset, u = handed, beta * handed + i
        s = 1.0 if u > threshold else 0.0
        us.append(u)
        dus.append(u - after_reset)
        ss.append(s)
        if reset_delay or reset == "none":
            handed = u
        elif reset == "zero":
            handed = u - (s - r) * u
        else:
            handed = u - (s - r) * threshold
    return us, dus, ss


# --------------------------------------------------------------------------
# Plain whole-tensor formulation (one op per formula term, straightforward
# loops over T), the package's first implementation. The fused, chunked path
# of snntorch_tssl._math must reproduce it: forward bit for bit, backward to
# float rounding.
# --------------------------------------------------------------------------


def plain_scan(x: torch.Tensor, decay, reverse: bool = False) -> torch.Tensor:
    out = torch.empty_like(x)
    state = torch.zeros_like(x[0])
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    for t in steps:
        state = state * decay + x[t] * (1.0 - decay)
        out[t] = state
    return out


def plain_removed(mem, spike, threshold, reset):
    if reset == "zero":
        return mem * spike
    if reset == "subtract":
        return spike * threshold
    return torch.zeros_like(mem)


def plain_lif(current: torch.Tensor, beta, threshold, reset: str):
    mem = torch.empty_like(current)
    spike = torch.empty_like(current)
    after = torch.zeros_like(current[0])
    for t in range(current.shape[0]):
        u = after * beta + current[t]
        s = (u > threshold).to(current.dtype)
        mem[t] = u
        spike[t] = s
        after = u - plain_removed(u, s, threshold, reset)
    return mem, spike


def plain_tssl_backward(grad_spike, mem, spike, beta, threshold, reset, options, grad_mem_after_reset=None):
    """dL/dI = (warm-up value or G) + H: the spike-timing stream G and, for a gradient on the membrane after
    reset, the plain membrane stream H[t] = (du_hat/du)[t] (g_hat[t] + beta H[t+1])."""
    removed = plain_removed(mem, spike, threshold, reset)
    reset_grad = 1.0 - spike if reset == "zero" else torch.ones_like(mem)
    after = mem - removed
    previous = torch.cat([torch.zeros_like(mem[:1]), after[:-1]])
    increment = mem - previous
    inverse = torch.clamp(increment.reciprocal(), max=options.max_inv_du)
    crossed_in_step = (increment > 0) & (previous <= threshold)
    timing = torch.where(crossed_in_step, inverse, torch.zeros_like(increment)) * spike
    coefficient = beta * reset_grad
    if options.reset_term:
        coefficient = coefficient + spike * timing * (1.0 - beta) * removed
        if reset == "subtract":
            coefficient = coefficient.clamp(max=1.0)
    drive = timing * grad_spike
    grad = torch.empty_like(drive)
    state = torch.zeros_like(drive[0])
    for t in range(drive.shape[0] - 1, -1, -1):
        state = drive[t] + coefficient[t] * state
        grad[t] = state
    if options.warmup:
        warm = plain_scan(spike, 1.0 - 1.0 / options.tau_s) < 0.25 / options.tau_s
        z = torch.clamp((mem - threshold) / options.warmup_width, -8.0, 8.0)
        warm_value = torch.sigmoid(z) * torch.sigmoid(-z) / options.warmup_width * grad_spike
        grad = grad + warm * warm_value if options.warmup_keeps_timing else torch.where(warm, warm_value, grad)
    if grad_mem_after_reset is not None:
        membrane = torch.zeros_like(mem[0])
        for t in range(mem.shape[0] - 1, -1, -1):
            membrane = reset_grad[t] * (grad_mem_after_reset[t] + beta * membrane)
            grad[t] = grad[t] + membrane
    return grad


def step_stock_neuron(neuron, x: torch.Tensor) -> torch.Tensor:
    """Step a stock snnTorch neuron (Leaky: one state, Synaptic: two) over a time-first input; stacked spikes."""
    state = neuron.reset_mem()
    state = state if isinstance(state, tuple) else (state,)
    spikes = []
    for t in range(x.shape[0]):
        spk, *state = neuron(x[t], *state)
        spikes.append(spk)
    return torch.stack(spikes)
