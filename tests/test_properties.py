"""Property-based numerics of the TSSL-BP rule (``_math``) and of SynapticSequence.

Random shapes, T from 1 to 200, time constants, thresholds, input scales from
1e-6 to 1e6 and slow ramps that cross the threshold with tiny membrane
increments. What is proved:

- gradients are always finite (no NaN/inf), in float32 and float64;
- the same computation twice on CPU gives bit-identical results;
- float32 agrees with float64. A spike flip at a membrane within rounding of
  the threshold legitimately changes everything after it, so the rule is
  compared given the same trajectory (spikes and membranes, float32 values
  promoted exactly to float64), with the stated tolerance

      max|g32 - g64| <= 64 * eps32 * kappa * max|g64|,

  where kappa = max over timing steps (spike, 1/du below its cap) of
  (|u[t]| + |u_hat[t-1]|) / du[t] >= 1 is the condition number of the
  membrane increment du = u - u_hat (float32 keeps |u| * eps32 of it). The
  neuron is compared end to end by checking that every float32/float64
  spike disagreement starts at a membrane within rounding of the threshold.

The rule inside stock snn.Leaky and snn.Synaptic (step mode, T up to 60 as it
is stepped in Python) is checked for finite, deterministic gradients, and the
losses (van Rossum with labels or trains, count loss) for finite,
deterministic values and gradients that agree between float32 and float64.
"""

from __future__ import annotations

import math

import pytest
import snntorch as snn
import torch
from hypothesis import example, given
from hypothesis import strategies as st
from reference import step_stock_neuron

import snntorch_tssl.functional as TF
from snntorch_tssl import SynapticSequence, _math, tssl

EPS32 = torch.finfo(torch.float32).eps


def log_uniform(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(math.log(low), math.log(high)).map(math.exp)


def as_float32(value: float) -> float:
    """The float32 value nearest ``value``, as a Python float (exactly representable in both dtypes)."""
    return float(torch.tensor(value, dtype=torch.float32))


@st.composite
def neuron_cases(draw) -> dict:
    steps = draw(st.integers(1, 200))
    shape = (steps, *draw(st.lists(st.integers(1, 3), min_size=1, max_size=2)))
    tau_m = draw(log_uniform(1.0, 1e3))
    threshold = as_float32(draw(log_uniform(1e-3, 1e3)))
    scale = draw(log_uniform(1e-6, 1e6))
    drive = draw(st.sampled_from(["random", "ramp"]))
    options = _math.TSSLOptions(
        tau_s=draw(log_uniform(1.0, 100.0)),
        max_inv_du=draw(st.sampled_from([0.5, 8.0, 1e3])),
        warmup=draw(st.booleans()),
        warmup_width=draw(log_uniform(1e-3, 10.0)),
        reset_term=draw(st.booleans()),
    )
    return {
        "shape": shape,
        "beta": as_float32(1.0 - 1.0 / tau_m),
        "threshold": threshold,
        "scale": scale,
        "drive": drive,
        "offset": draw(st.floats(-1.0, 2.0)),
        "reset": draw(st.sampled_from(_math.RESET_MECHANISMS)),
        "options": options,
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def make_current(case: dict, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Input current, upstream spike gradient and gradient on the membrane after reset.

    "random": Gaussian currents around ``offset * scale``. "ramp": a constant
    current just above the rheobase (1 - beta) V plus noise of relative size
    1e-7..1e-2, so the membrane creeps up to the threshold with tiny increments.
    """
    generator = torch.Generator().manual_seed(case["seed"])
    noise = torch.randn(case["shape"], generator=generator, dtype=torch.float64)
    if case["drive"] == "random":
        current = (noise + case["offset"]) * case["scale"]
    else:
        rheobase = max(1.0 - case["beta"], 1e-3) * case["threshold"]
        tiny = 10.0 ** (-7 + 5 * abs(case["offset"]) / 2)
        current = rheobase * (1.0 + tiny + tiny * noise.abs())
    grad_spike = torch.randn(case["shape"], generator=generator, dtype=torch.float64)
    grad_mem = torch.randn(case["shape"], generator=generator, dtype=torch.float64)
    return current.to(dtype), grad_spike.to(dtype), grad_mem.to(dtype)


def rule(case: dict, current: torch.Tensor, grad_spike: torch.Tensor, grad_mem: torch.Tensor) -> torch.Tensor:
    mem, spike = _math.lif_sequence_forward(current, case["beta"], case["threshold"], case["reset"])
    return _math.tssl_sequence_backward(
        grad_spike, mem, spike, case["beta"], case["threshold"], case["reset"], case["options"], grad_mem
    )


@given(neuron_cases())
def test_rule_gradient_is_finite_and_deterministic(case):
    for dtype in (torch.float32, torch.float64):
        current, grad_spike, grad_mem = make_current(case, dtype)
        grad = rule(case, current, grad_spike, grad_mem)
        assert grad.dtype == dtype and grad.shape == current.shape
        assert torch.isfinite(grad).all(), f"non-finite TSSL gradient in {dtype}"
        assert torch.equal(grad, rule(case, current, grad_spike, grad_mem))


def increment_condition(mem: torch.Tensor, spike: torch.Tensor, case: dict) -> float:
    """kappa = max (|u| + |u_hat[t-1]|) / du over the steps whose timing term 1/du is not capped."""
    after_reset = mem - _math.reset_removed(mem, spike, case["threshold"], case["reset"])
    previous = torch.cat([torch.zeros_like(after_reset[:1]), after_reset[:-1]])
    increment = mem - previous
    active = (spike > 0) & (increment > 1.0 / case["options"].max_inv_du)
    if not active.any():
        return 1.0
    return max(1.0, ((mem.abs() + previous.abs()) / increment)[active].max().item())


@given(neuron_cases())
def test_rule_float32_matches_float64_on_the_same_trajectory(case):
    current, grad_spike, grad_mem = make_current(case, torch.float32)
    mem, spike = _math.lif_sequence_forward(current, case["beta"], case["threshold"], case["reset"])
    args = (case["beta"], case["threshold"], case["reset"], case["options"])
    grad32 = _math.tssl_sequence_backward(grad_spike, mem, spike, *args, grad_mem)
    grad64 = _math.tssl_sequence_backward(grad_spike.double(), mem.double(), spike.double(), *args, grad_mem.double())
    kappa = increment_condition(mem.double(), spike.double(), case)
    error = (grad32.double() - grad64).abs().max().item()
    assert error <= 64 * EPS32 * kappa * grad64.abs().max().item(), (error, kappa)


def neuron_input(case: dict, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """:func:`make_current` with a trailing neuron axis: SynapticSequence takes [T, B, ...] with B and at
    least one neuron dimension (it refuses 2-D input), and the case's shape may be [T, N]."""
    return tuple(tensor.unsqueeze(-1) for tensor in make_current(case, dtype))


def neuron_for(case: dict) -> SynapticSequence:
    options = case["options"]._asdict()
    return SynapticSequence(
        alpha=1.0 - 1.0 / options["tau_s"],
        beta=case["beta"],
        threshold=case["threshold"],
        reset_mechanism=case["reset"],
        spike_grad=tssl(**options),
        output=True,
    )


@given(neuron_cases())
def test_synaptic_sequence_gradient_is_finite_and_deterministic(case):
    neuron = neuron_for(case)
    for dtype in (torch.float32, torch.float64):
        current, grad_spike, grad_mem = neuron_input(case, dtype)
        grads = []
        for _ in range(2):
            x = current.clone().requires_grad_()
            spk, _, mem = neuron(x)
            torch.autograd.backward([spk, mem], [grad_spike, grad_mem])
            grads.append(x.grad)
        assert torch.isfinite(grads[0]).all(), f"non-finite input gradient in {dtype}"
        assert torch.equal(grads[0], grads[1])


# A slow ramp whose float32 and float64 spikes do differ (found by the search), so the check below
# always sees real flips.
FLIPPING_CASE = {
    "shape": (137, 2),
    "beta": 0.7621347904205322,
    "threshold": 4.204061508178711,
    "scale": 1.0,
    "drive": "ramp",
    "offset": -0.2642065379416756,
    "reset": "subtract",
    "options": _math.TSSLOptions(tau_s=4.2040613, max_inv_du=8.0, warmup=False, warmup_width=1.0, reset_term=False),
    "seed": 626,
}


def float32_and_float64_spikes(case: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    neuron = neuron_for(case)
    x32, _, _ = neuron_input(case, torch.float32)
    spk32 = neuron(x32)[0]
    syn64 = neuron(x32.double())[1]
    mem64, spk64 = _math.lif_sequence_forward(syn64, case["beta"], case["threshold"], case["reset"])
    return spk32.double(), spk64, mem64


def test_the_flipping_case_flips():
    spk32, spk64, _ = float32_and_float64_spikes(FLIPPING_CASE)
    assert not torch.equal(spk32, spk64)


@example(FLIPPING_CASE)
@given(neuron_cases())
def test_synaptic_sequence_float32_and_float64_spikes_differ_only_at_the_threshold(case):
    spk32, spk64, mem64 = float32_and_float64_spikes(case)
    differ = spk32 != spk64
    if not differ.any():
        return
    first = differ.int().argmax(dim=0)  # first disagreeing step of each neuron
    flipped = differ.any(dim=0)
    steps = torch.arange(mem64.shape[0]).view(-1, *[1] * (mem64.dim() - 1))
    span = torch.where(steps <= first, mem64.abs(), torch.zeros_like(mem64)).amax(dim=0)
    at_flip = mem64.gather(0, first.unsqueeze(0)).squeeze(0)
    slack = 1e-4 * torch.maximum(span, torch.full_like(span, case["threshold"]))
    assert ((at_flip - case["threshold"]).abs() <= slack)[flipped].all()


# --------------------------------------------------------------------------
# The rule inside stock snnTorch neurons (step mode), stepped in a Python loop.
# --------------------------------------------------------------------------


@st.composite
def stock_cases(draw) -> dict:
    case = draw(neuron_cases())
    steps = draw(st.integers(1, 60))
    case["shape"] = (steps, *case["shape"][1:])
    case["kind"] = draw(st.sampled_from(["Leaky", "Synaptic"]))
    case["alpha"] = as_float32(draw(st.floats(0.0, 0.95)))
    case["reset_delay"] = draw(st.booleans())
    return case


def stock_neuron(case: dict, dtype: torch.dtype) -> snn.SpikingNeuron:
    common = {
        "beta": case["beta"],
        "threshold": case["threshold"],
        "reset_mechanism": case["reset"],
        "reset_delay": case["reset_delay"],
        "spike_grad": tssl(**case["options"]._asdict()),
    }
    if case["kind"] == "Leaky":
        return snn.Leaky(**common).to(dtype)
    return snn.Synaptic(alpha=case["alpha"], **common).to(dtype)


def stock_input_grad(case: dict, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    current, grad_spike, _ = make_current(case, dtype)
    neuron = stock_neuron(case, dtype)
    x = current.clone().requires_grad_()
    spikes = step_stock_neuron(neuron, x)
    torch.autograd.backward(spikes, grad_spike)
    return spikes.detach(), x.grad


@given(stock_cases())
def test_stock_neuron_gradient_is_finite_and_deterministic(case):
    for dtype in (torch.float32, torch.float64):
        spikes, grad = stock_input_grad(case, dtype)
        assert grad.dtype == dtype and torch.isfinite(grad).all(), f"non-finite input gradient in {dtype}"
        again_spikes, again = stock_input_grad(case, dtype)
        assert torch.equal(spikes, again_spikes) and torch.equal(grad, again)


@pytest.mark.parametrize("dtype,tiny", [(torch.float32, 1e-40), (torch.float64, 1e-310)])
def test_uncapped_timing_term_is_never_nan(dtype, tiny):
    """With max_inv_du=inf, 1/du overflows for a subnormal increment; silent steps must still give 0."""
    current = torch.full((3, 2), tiny, dtype=dtype)
    mem, spike = _math.lif_sequence_forward(current, 0.5, 1.0, "zero")
    assert not spike.any()
    for warmup in (False, True):
        options = _math.TSSLOptions(max_inv_du=float("inf"), warmup=warmup)
        grad = _math.tssl_sequence_backward(torch.ones_like(mem), mem, spike, 0.5, 1.0, "zero", options)
        assert torch.isfinite(grad).all()


# --------------------------------------------------------------------------
# Losses: the van Rossum distance (labels or target trains) and the count loss.
# --------------------------------------------------------------------------


@st.composite
def loss_cases(draw) -> dict:
    return {
        "shape": (draw(st.integers(1, 200)), draw(st.integers(1, 4)), draw(st.integers(1, 5))),
        "tau": draw(log_uniform(1.0, 100.0)),
        "scale": draw(log_uniform(1e-6, 1e6)),
        "graded": draw(st.booleans()),
        "kind": draw(st.sampled_from(["van_rossum_labels", "van_rossum_trains", "count"])),
        "pattern": draw(st.sampled_from(["tssl", "tssl-paper"])),
        "reduction": draw(st.sampled_from(["mean", "sum", "none"])),
        "undesired": (undesired := draw(st.floats(0.0, 10.0))),
        "desired": undesired + draw(st.floats(0.0, 40.0)),  # count_loss needs desired >= undesired >= 0
        "seed": draw(st.integers(0, 2**31 - 1)),
    }


def loss_inputs(case: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """Output spikes (0/1, or graded real values of size ``scale``) as float32 values, and the targets."""
    generator = torch.Generator().manual_seed(case["seed"])
    steps, batch, classes = case["shape"]
    if case["graded"]:
        spk_out = torch.randn(case["shape"], generator=generator) * case["scale"]
    else:
        spk_out = (torch.rand(case["shape"], generator=generator) < 0.4).float()
    if case["kind"] == "van_rossum_trains":
        targets = (torch.rand(case["shape"], generator=generator) < 0.4).float()
    else:
        targets = torch.randint(0, classes, (batch,), generator=generator)
    return spk_out, targets


def loss_function(case: dict):
    if case["kind"] == "count":
        return TF.count_loss(case["desired"], case["undesired"], tau=case["tau"], reduction=case["reduction"])
    return TF.van_rossum_loss(tau=case["tau"], pattern=case["pattern"], reduction=case["reduction"])


def loss_and_grad(case: dict, spk_out: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = spk_out.clone().requires_grad_()
    loss = loss_function(case)(x, targets.to(spk_out.dtype) if targets.is_floating_point() else targets)
    loss.sum().backward()
    return loss.detach(), x.grad


@given(loss_cases())
def test_losses_are_finite_deterministic_and_agree_across_float_dtypes(case):
    """float32 vs float64 on the same values. The losses are smooth (no threshold), so they are compared
    directly; stated tolerance: 1e-4 times the loss and gradient magnitudes of :func:`loss_magnitudes`
    (every term in absolute value, so no cancellation can shrink them), plus 1e-30 absolute."""
    spk_out, targets = loss_inputs(case)
    loss32, grad32 = loss_and_grad(case, spk_out, targets)
    assert torch.isfinite(loss32).all() and torch.isfinite(grad32).all()
    again = loss_and_grad(case, spk_out, targets)
    assert torch.equal(loss32, again[0]) and torch.equal(grad32, again[1])

    loss64, grad64 = loss_and_grad(case, spk_out.double(), targets)
    loss_magnitude, grad_magnitude = loss_magnitudes(case, spk_out.double(), targets)
    # plus 1e-30 absolute: squares below float32's normal range (~1e-38) flush to 0
    assert (loss32.double() - loss64).abs().max() <= 1e-4 * loss_magnitude + 1e-30
    assert (grad32.double() - grad64).norm() <= 1e-4 * grad_magnitude + 1e-30


def loss_magnitudes(case: dict, spk_out: torch.Tensor, targets: torch.Tensor) -> tuple[float, float]:
    """Largest per-sample loss and gradient norm with every term taken in absolute value.

    van Rossum: the distance of |spk_out| + target from 0; count loss: the errors
    (count of |spk_out| + max(desired, undesired)) / T on every neuron.
    """
    steps, batch, _ = spk_out.shape
    if case["kind"] == "count":
        count = _math.psc_filter_forward(spk_out.abs(), case["tau"]).sum(dim=0)
        delta = (count + max(case["desired"], case["undesired"])) / steps
        loss = 0.5 * steps * delta.square().sum(dim=1)
        grad = _math.psc_filter_transpose(delta.expand(steps, *delta.shape), case["tau"])
    else:
        if case["kind"] == "van_rossum_trains":
            trains = targets
        else:
            trains = loss_function(case).target_trains(spk_out, targets)
        difference = _math.psc_filter_forward(spk_out.abs() + trains.double(), case["tau"])
        loss = 0.5 * difference.square().sum(dim=(0, 2))
        grad = _math.psc_filter_transpose(difference, case["tau"])
    scale = 1.0 / batch if case["reduction"] == "mean" else 1.0
    return loss.max().item(), scale * grad.norm().item()
