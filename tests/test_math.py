"""The TSSL-BP math (_math) against the golden vectors and a slow loop reference."""

import pytest
import torch
from conftest import time_first
from reference import kernel_transpose, lif_neuron, per_neuron, psc, tssl_neuron_backward

from snntorch_tssl import _math


def assert_close_to_reference(actual: torch.Tensor, reference: torch.Tensor, rel: float = 1e-5) -> None:
    scale = reference.abs().max().clamp_min(1e-30)
    assert ((actual.double() - reference.double()).abs().max() / scale).item() <= rel


def test_layer_forward_matches_golden(golden_layer):
    current = time_first(golden_layer["current"])
    beta = 1 - 1 / golden_layer["tau_m"]
    mem, spike = _math.lif_sequence_forward(current, beta, golden_layer["threshold"], "zero")
    assert torch.equal(spike, time_first(golden_layer["s"]))
    assert_close_to_reference(mem, time_first(golden_layer["u"]))
    increment = _math.mem_increment(mem, spike, golden_layer["threshold"], "zero")
    assert_close_to_reference(increment, time_first(golden_layer["du"]))
    psc_out = _math.psc_filter_forward(spike, golden_layer["tau_s"])
    assert_close_to_reference(psc_out, time_first(golden_layer["a"]))
    grad_s = _math.psc_filter_transpose(time_first(golden_layer["grad_a"]), golden_layer["tau_s"])
    assert_close_to_reference(grad_s, time_first(golden_layer["grad_s"]))


@pytest.mark.parametrize("warmup", [False, True])
@pytest.mark.parametrize("reset_term", [False, True])
def test_layer_backward_matches_golden(golden_layer, warmup, reset_term):
    current = time_first(golden_layer["current"])
    beta = 1 - 1 / golden_layer["tau_m"]
    mem, spike = _math.lif_sequence_forward(current, beta, golden_layer["threshold"], "zero")
    options = _math.TSSLOptions(tau_s=golden_layer["tau_s"], warmup=warmup, reset_term=reset_term)
    grad_current = _math.tssl_sequence_backward(
        time_first(golden_layer["grad_s"]), mem, spike, beta, golden_layer["threshold"], "zero", options
    )
    expected = time_first(golden_layer[f"grad_I_warmup{int(warmup)}_reset{int(reset_term)}"])
    assert_close_to_reference(grad_current, expected)


def random_case(seed: int, steps: int, neurons: int, rate: float, threshold: float, tau_m: float):
    """Currents whose scale sets the firing rate from near 0 to near 1."""
    gen = torch.Generator().manual_seed(seed)
    scale = threshold * (0.05 + 4.0 * rate)
    current = torch.randn(steps, neurons, generator=gen, dtype=torch.float64) * scale * 0.3 + scale * 0.6
    grad_s = torch.randn(steps, neurons, generator=gen, dtype=torch.float64)
    return current, grad_s


CASES = [
    # steps, rate, threshold, tau_m, tau_s, reset
    (1, 0.5, 1.0, 5.0, 3.0, "zero"),
    (2, 0.9, 1.0, 5.0, 3.0, "zero"),
    (5, 0.02, 1.0, 5.0, 3.0, "zero"),
    (5, 0.99, 0.5, 2.0, 2.0, "zero"),
    (17, 0.3, 2.0, 8.0, 4.0, "zero"),
    (30, 0.6, 1.0, 8.0, 4.0, "subtract"),
    (30, 0.1, 0.3, 20.0, 1.5, "none"),
    (64, 0.5, 1.5, 1.0, 10.0, "subtract"),
    (100, 0.8, 1.0, 3.0, 5.0, "zero"),
]


@pytest.mark.parametrize("steps,rate,threshold,tau_m,tau_s,reset", CASES)
@pytest.mark.parametrize("warmup,reset_term", [(True, True), (False, True), (True, False), (False, False)])
def test_backward_matches_slow_reference(steps, rate, threshold, tau_m, tau_s, reset, warmup, reset_term):
    current, grad_s = random_case(steps, steps, 24, rate, threshold, tau_m)
    beta = 1 - 1 / tau_m
    mem, spike = _math.lif_sequence_forward(current, beta, threshold, reset)

    def forward_one(column):
        return lif_neuron(column, tau_m, threshold, reset)

    us = per_neuron(lambda c: forward_one(c)[0], current)
    dus = per_neuron(lambda c: forward_one(c)[1], current)
    ss = per_neuron(lambda c: forward_one(c)[2], current)
    assert torch.equal(spike, ss)
    torch.testing.assert_close(mem, us, rtol=0, atol=1e-12)
    torch.testing.assert_close(_math.mem_increment(mem, spike, threshold, reset), dus, rtol=0, atol=1e-12)

    options = _math.TSSLOptions(tau_s=tau_s, warmup=warmup, reset_term=reset_term)
    actual = _math.tssl_sequence_backward(grad_s, mem, spike, beta, threshold, reset, options)
    expected = per_neuron(
        lambda g, u, du, s: tssl_neuron_backward(
            g,
            u,
            du,
            s,
            tau_m=tau_m,
            tau_s=tau_s,
            threshold=threshold,
            reset=reset,
            warmup=warmup,
            reset_term=reset_term,
        ),
        grad_s,
        us,
        dus,
        ss,
    )
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-12)


def test_firing_rates_span_silent_to_saturated():
    rates = []
    for steps, rate, threshold, tau_m, _, reset in CASES:
        current, _ = random_case(steps, steps, 24, rate, threshold, tau_m)
        _, spike = _math.lif_sequence_forward(current, 1 - 1 / tau_m, threshold, reset)
        rates.append(spike.mean().item())
    assert min(rates) < 0.1 and max(rates) > 0.9


def test_psc_filter_and_transpose_match_explicit_kernel():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(12, 3, dtype=torch.float64, generator=gen)
    expected = per_neuron(lambda c: psc(c, 3.0), x)
    torch.testing.assert_close(_math.psc_filter_forward(x, 3.0), expected)
    torch.testing.assert_close(_math.psc_filter_transpose(x, 3.0), per_neuron(lambda c: kernel_transpose(c, 3.0), x))
    assert torch.autograd.gradcheck(lambda v: _math.psc_filter(v, 3.0), (x.clone().requires_grad_(),))


def test_without_warmup_a_silent_neuron_gets_no_gradient():
    current = torch.full((20, 4), 0.05, dtype=torch.float64)  # far below threshold: never fires
    mem, spike = _math.lif_sequence_forward(current, 0.8, 1.0, "zero")
    assert spike.sum() == 0
    grad_s = torch.randn(20, 4, dtype=torch.float64)
    silent = _math.tssl_sequence_backward(grad_s, mem, spike, 0.8, 1.0, "zero", _math.TSSLOptions(warmup=False))
    assert torch.equal(silent, torch.zeros_like(silent))
    warm = _math.tssl_sequence_backward(grad_s, mem, spike, 0.8, 1.0, "zero", _math.TSSLOptions(warmup=True))
    assert (warm != 0).all()


def test_reset_term_false_drops_exactly_the_intra_neuron_term():
    # A neuron firing at t = 0 and t = 1: only the intra-neuron term links them.
    current = torch.tensor([[1.5], [1.6], [0.0]], dtype=torch.float64)
    beta, tau_m = 0.8, 5.0
    mem, spike = _math.lif_sequence_forward(current, beta, 1.0, "zero")
    assert spike.flatten().tolist() == [1.0, 1.0, 0.0]
    grad_s = torch.tensor([[0.0], [1.0], [0.0]], dtype=torch.float64)
    opts = {"warmup": False}
    with_term = _math.tssl_sequence_backward(grad_s, mem, spike, beta, 1.0, "zero", _math.TSSLOptions(**opts))
    without = _math.tssl_sequence_backward(
        grad_s, mem, spike, beta, 1.0, "zero", _math.TSSLOptions(reset_term=False, **opts)
    )
    m1 = 1 / 1.6  # du[1] = 1.6 - 0
    m0 = min(1 / 1.5, 8.0)
    assert with_term[1, 0].item() == pytest.approx(m1)
    assert without[1, 0].item() == pytest.approx(m1)
    assert with_term[0, 0].item() == pytest.approx(m0 * (1 / tau_m) * 1.5 * m1)  # positive sign
    assert without[0, 0].item() == 0.0
