"""Every rule's sequence path in SynapticSequence equals the neuron stepped with that rule, and a sequence
cut into chunks equals one call over the whole of it.

The reference for the surrogate rules is the neuron stepped in a Python loop with autograd (the path
SynapticSequence keeps for arbitrary ``spike_grad`` callables, and ``plain_bptt_run`` below, written
from the equations). TSSL-BP's sequence path is checked against the plain formulation in
test_fast_path.py; here its chunks are checked against one call.
"""

from __future__ import annotations

import pytest
import torch
from snntorch import surrogate

from snntorch_tssl import SynapticOutput, SynapticSequence, SynapticState, _math, rules, stbp, tssl

SURROGATE_RULES = {
    "stbp-rectangular": lambda: stbp("rectangular", a=1.0),
    "stbp-polynomial": lambda: stbp("polynomial", a=2.0),
    "stbp-sigmoid": lambda: stbp("sigmoid", a=0.3),
    "stbp-gaussian": lambda: stbp("gaussian", a=0.5),
    "atan": lambda: rules.get("atan"),
    "fast_sigmoid": lambda: rules.get("fast_sigmoid", slope=5.0),
    "sigmoid": lambda: rules.get("sigmoid", slope=5.0),
}
ALL_RULES = {"tssl": tssl, "tssl-bare": lambda: tssl(warmup=False, reset_term=False), **SURROGATE_RULES}


def stepped(rule):
    """The same rule as a plain callable: SynapticSequence steps it (the BPTT path for any spike_grad)."""
    return lambda shift: rule(shift)


def case(dtype: torch.dtype, steps: int = 24, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(steps, 3, 10, generator=generator, dtype=torch.float64) * 3
    grad_spk, grad_mem = torch.randn(2, steps, 3, 10, generator=generator, dtype=torch.float64)
    return x.to(dtype), grad_spk.to(dtype), grad_mem.to(dtype)


def run(neuron: SynapticSequence, x, grad_spk, grad_mem, chunks: int = 1):
    """Spikes, membranes and the input gradient of ``neuron`` over ``x`` (in ``chunks`` calls, state carried)."""
    x = x.clone().requires_grad_()
    state, outputs = neuron.init_synaptic(), []
    for chunk in x.tensor_split(chunks):
        out, state = neuron(chunk, state)
        outputs.append(out)
    spk, mem = (torch.cat([getattr(out, name) for out in outputs]) for name in ("spk", "mem"))
    (grad,) = torch.autograd.grad((spk * grad_spk).sum() + (mem * grad_mem).sum(), x)
    return spk, mem, grad


def assert_close_on_scale(actual, expected, relative):
    scale = expected.abs().max()
    assert (actual - expected).abs().max() <= relative * scale


@pytest.mark.parametrize("name", list(SURROGATE_RULES))
@pytest.mark.parametrize("reset", _math.RESET_MECHANISMS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_surrogate_sequence_path_equals_the_stepped_neuron(name, reset, dtype):
    x, grad_spk, grad_mem = case(dtype, seed=len(name))
    rule = SURROGATE_RULES[name]()
    fused = SynapticSequence(alpha=0.5, beta=0.75, spike_grad=rule, reset_mechanism=reset, output=True)
    loop = SynapticSequence(alpha=0.5, beta=0.75, spike_grad=stepped(rule), reset_mechanism=reset, output=True)
    spk, mem, grad = run(fused, x, grad_spk, grad_mem)
    spk_ref, mem_ref, grad_ref = run(loop, x, grad_spk, grad_mem)
    assert torch.equal(spk, spk_ref) and torch.equal(mem, mem_ref)
    # snnTorch's surrogates round the incoming gradient to float32 even for float64 inputs.
    relative = 1e-5 if dtype == torch.float32 or not name.startswith("stbp") else 1e-12
    assert_close_on_scale(grad, grad_ref, relative)
    assert 0.05 < spk.mean() < 0.99 and grad.abs().sum() > 0


def plain_bptt_run(x, alpha, beta, threshold, reset, spike_grad):
    """The neuron of SynapticSequence's docstring stepped with autograd, written from its equations."""
    syn, mem, spikes, mems = torch.zeros_like(x[0]), torch.zeros_like(x[0]), [], []
    for t in range(x.shape[0]):
        syn = alpha * syn + (1 - alpha) * x[t]
        mem = beta * mem + syn
        spk = spike_grad(mem - threshold).to(x.dtype)
        mem = mem - spk * mem if reset == "zero" else mem - spk * threshold if reset == "subtract" else mem
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)


@pytest.mark.parametrize("reset", _math.RESET_MECHANISMS)
def test_surrogate_sequence_path_equals_the_plain_loop(reset):
    x, grad_spk, grad_mem = case(torch.float64, seed=1)
    rule = stbp("gaussian", a=0.5)
    neuron = SynapticSequence(alpha=0.5, beta=0.75, threshold=1.25, spike_grad=rule, reset_mechanism=reset, output=True)
    spk, mem, grad = run(neuron, x, grad_spk, grad_mem)
    xr = x.clone().requires_grad_()
    spk_ref, mem_ref = plain_bptt_run(xr, 0.5, 0.75, 1.25, reset, rule)
    (grad_ref,) = torch.autograd.grad((spk_ref * grad_spk).sum() + (mem_ref * grad_mem).sum(), xr)
    assert torch.equal(spk, spk_ref)
    torch.testing.assert_close(mem, mem_ref)
    assert_close_on_scale(grad, grad_ref, 1e-12)


@pytest.mark.parametrize("name", ["atan", "fast_sigmoid", "sigmoid"])
def test_surrogate_derivative_is_snntorchs_backward(name):
    x = torch.linspace(-3, 3, 1001, requires_grad=True)
    rule = rules.get(name)
    (grad,) = torch.autograd.grad(rule(x).sum(), x)
    assert torch.equal(rule.derivative(x.detach()), grad)


def test_surrogates_without_a_closed_form_are_stepped():
    rule = rules.get("triangular")
    assert rule.sequence_forward(torch.rand(3, 2, 4), None, output=False) is None
    with pytest.raises(NotImplementedError, match="triangular"):
        rule.derivative(torch.zeros(3))
    x, grad_spk, grad_mem = case(torch.float64, seed=2)
    neuron = SynapticSequence(spike_grad=rule, output=True)
    reference = SynapticSequence(spike_grad=stepped(rule), output=True)
    for left, right in zip(run(neuron, x, grad_spk, grad_mem), run(reference, x, grad_spk, grad_mem), strict=True):
        assert torch.equal(left, right)


@pytest.mark.parametrize("name", [*ALL_RULES, "snntorch-atan-closure"])
@pytest.mark.parametrize("reset", _math.RESET_MECHANISMS)
def test_chunks_with_carried_state_equal_one_call(name, reset):
    """Forward bit for bit; gradients through the undetached states equal the whole sequence's."""
    x, grad_spk, grad_mem = case(torch.float64, steps=23, seed=3)
    rule = surrogate.atan() if name == "snntorch-atan-closure" else ALL_RULES[name]()
    neuron = SynapticSequence(tau_s=3.0, tau_m=5.0, spike_grad=rule, reset_mechanism=reset, output=True)
    spk, mem, grad = run(neuron, x, grad_spk, grad_mem)
    for chunks in (2, 5, 23):
        spk_c, mem_c, grad_c = run(neuron, x, grad_spk, grad_mem, chunks=chunks)
        assert torch.equal(spk_c, spk) and torch.equal(mem_c, mem)
        assert_close_on_scale(grad_c, grad, 1e-12)


@pytest.mark.parametrize("name", ["tssl", "atan", "snntorch-atan-closure"])
def test_chunks_in_float32_and_float16(name):
    for dtype in (torch.float32, torch.float16):
        x, grad_spk, grad_mem = case(dtype, steps=20, seed=4)
        rule = surrogate.atan() if name == "snntorch-atan-closure" else ALL_RULES[name]()
        neuron = SynapticSequence(spike_grad=rule, output=True)
        spk, mem, grad = run(neuron, x, grad_spk, grad_mem)
        spk_c, mem_c, grad_c = run(neuron, x, grad_spk, grad_mem, chunks=4)
        assert torch.equal(spk_c, spk) and torch.equal(mem_c, mem)
        assert_close_on_scale(grad_c.float(), grad.float(), 1e-5 if dtype == torch.float32 else 2e-3)


def test_tssl_recursion_reaches_earlier_chunks():
    """Without the timing state's gradient the earlier chunk would miss G: detaching it changes the gradient."""
    x, grad_spk, _ = case(torch.float64, steps=20, seed=5)
    neuron = SynapticSequence(spike_grad=tssl(warmup=False), output=True)
    zero = torch.zeros_like(grad_spk)
    whole = run(neuron, x, grad_spk, zero)[2]
    x1 = x.clone().requires_grad_()
    (first, state), (second, _) = neuron(x1[:10], neuron.init_synaptic()), (None, None)
    second, _ = neuron(x1[10:], state._replace(timing=state.timing.detach()))
    spk = torch.cat([first.spk, second.spk])
    (cut,) = torch.autograd.grad((spk * grad_spk).sum(), x1)
    assert not torch.allclose(cut[:10], whole[:10])
    torch.testing.assert_close(cut[10:], whole[10:])


def test_state_api_of_snntorch():
    x = torch.rand(12, 2, 6, dtype=torch.float64) * 3
    neuron = SynapticSequence(init_hidden=True, output=True)
    whole = SynapticSequence(output=True)(x)
    first, second = neuron(x[:7]), neuron(x[7:])
    assert isinstance(first, SynapticOutput) and torch.equal(torch.cat([first.spk, second.spk]), whole.spk)
    neuron.reset_mem()
    again = neuron(x[:7])
    assert torch.equal(again.spk, first.spk)
    SynapticSequence.detach_hidden()
    assert neuron._hidden.mem.grad_fn is None
    SynapticSequence.reset_hidden()
    assert neuron._hidden == SynapticState()
    with pytest.raises(TypeError, match="init_hidden=True"):
        neuron(x, SynapticState())


def test_truncated_bptt_with_init_hidden_trains():
    torch.manual_seed(0)
    linear = torch.nn.Linear(6, 6)
    neuron = SynapticSequence(init_hidden=True)
    net = torch.nn.Sequential(linear, neuron)
    x = torch.rand(30, 2, 6) * 3
    neuron.reset_mem()
    for chunk in x.split(10):
        net(chunk).sum().backward()
        SynapticSequence.detach_hidden()
    assert torch.isfinite(linear.weight.grad).all() and linear.weight.grad.abs().sum() > 0


def test_state_is_returned_only_when_given():
    x = torch.rand(5, 2, 4) * 3
    neuron = SynapticSequence()
    assert isinstance(neuron(x), torch.Tensor)
    spk, state = neuron(x, neuron.init_synaptic())
    assert isinstance(state, SynapticState) and state.mem.shape == (2, 4) and state.psc.shape == (2, 4)
    out, state = SynapticSequence(output=True, spike_grad="atan")(x, SynapticState())
    assert isinstance(out, SynapticOutput) and state.psc is None and state.timing is None
    assert state.detach().syn.grad_fn is None


@pytest.mark.parametrize(
    "state,error,match",
    [
        ((None, None), TypeError, "SynapticState"),
        (SynapticState(mem=torch.zeros(3, 4)), ValueError, r"state.mem must have one step's shape \(2, 4\)"),
        (SynapticState(syn=torch.zeros(4)), ValueError, "state.syn"),
        (SynapticState(psc=[0.0]), TypeError, "state.psc must be a torch.Tensor"),
    ],
)
def test_bad_state_is_rejected(state, error, match):
    with pytest.raises(error, match=match):
        SynapticSequence()(torch.rand(5, 2, 4), state)
