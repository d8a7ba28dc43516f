"""SynapticSequence: golden stack, surrogate equivalence with stock snnTorch, shapes and input checks."""

import copy
import pickle

import pytest
import snntorch as snn
import torch
from conftest import time_first
from snntorch import surrogate
from torch import nn

from snntorch_tssl import FrameWise, SumPool2d, SynapticOutput, SynapticSequence, SynapticState, _math, rules, tssl


def paper_stack(golden: dict) -> nn.Sequential:
    layers = []
    for weight in golden["weights"]:
        linear = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
        linear.weight.data.copy_(weight)
        neuron = SynapticSequence(
            tau_s=golden["tau_s"],
            tau_m=golden["tau_m"],
            threshold=golden["threshold"],
            spike_grad=tssl(tau_s=golden["tau_s"]),
        )
        layers += [linear, neuron]
    return nn.Sequential(*layers)


def test_golden_stack_forward_and_weight_gradients(golden_stack):
    net = paper_stack(golden_stack)
    x = golden_stack["x"].expand(golden_stack["n_steps"], *golden_stack["x"].shape)
    spk = net(x)
    assert torch.equal(spk, time_first(golden_stack["out_spikes"]))
    hidden = [m for m in net if isinstance(m, SynapticSequence)]
    assert len(hidden) == 3
    out_psc = _math.psc_filter(spk, golden_stack["tau_s"])
    torch.testing.assert_close(out_psc, time_first(golden_stack["out_psc"]), rtol=0, atol=1e-6)
    out_psc.backward(time_first(golden_stack["grad_out_psc"]))
    linears = [m for m in net if isinstance(m, nn.Linear)]
    for linear, expected in zip(linears, golden_stack["grads"], strict=True):
        diff = (linear.weight.grad - expected).abs().max()
        assert diff <= 1e-5 * expected.abs().max()


def test_golden_stack_hidden_spikes():
    golden = torch.load("tests/data/stack_vanrossum_T10.pt", weights_only=True)
    net = paper_stack(golden)
    x = golden["x"].expand(golden["n_steps"], *golden["x"].shape)
    h = x
    spikes = []
    for module in net:
        h = module(h)
        if isinstance(module, SynapticSequence):
            spikes.append(h)
    for actual, expected in zip(spikes, golden["hidden_spikes"], strict=True):
        assert torch.equal(actual, time_first(expected))


def stock_synaptic_run(x: torch.Tensor, alpha: float, beta: float, reset: str, spike_grad):
    """Stock snn.Synaptic with reset_delay=False stepped in a loop, fed (1 - alpha) x."""
    lif = snn.Synaptic(alpha=alpha, beta=beta, reset_mechanism=reset, reset_delay=False, spike_grad=spike_grad)
    syn, mem = lif.reset_mem()
    spikes, mems = [], []
    for t in range(x.shape[0]):
        spk, syn, mem = lif((1 - alpha) * x[t], syn, mem)
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)


def plain_bptt_run(x: torch.Tensor, alpha: float, beta: float, reset: str, spike_grad):
    """The neuron of the docstring stepped with autograd, reset not detached."""
    syn = torch.zeros_like(x[0])
    mem = torch.zeros_like(x[0])
    spikes, mems = [], []
    for t in range(x.shape[0]):
        syn = alpha * syn + (1 - alpha) * x[t]
        mem = beta * mem + syn
        spk = spike_grad(mem - 1.0).to(x.dtype)
        mem = mem - spk * mem if reset == "zero" else mem - spk * 1.0 if reset == "subtract" else mem
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)


def rule_run(x, alpha, beta, reset, spike_grad):
    neuron = SynapticSequence(alpha=alpha, beta=beta, reset_mechanism=reset, spike_grad=spike_grad, output=True)
    spk, _, mem = neuron(x)
    return spk, mem


# stock snn.Synaptic(reset_delay=False) with "subtract" tests the spike on u - V whenever the previous
# membrane after reset stayed above threshold, so it is only the same neuron for "zero" and "none".
@pytest.mark.parametrize(
    "reset,reference",
    [("zero", stock_synaptic_run), ("none", stock_synaptic_run)]
    + [(r, plain_bptt_run) for r in ("zero", "subtract", "none")],
)
@pytest.mark.parametrize("make_surrogate", [surrogate.atan, surrogate.fast_sigmoid, surrogate.sigmoid])
def test_other_spike_grad_equals_bptt_with_that_surrogate(reset, reference, make_surrogate):
    gen = torch.Generator().manual_seed(3)
    x = (torch.rand(25, 4, 30, generator=gen, dtype=torch.float64) * 3).requires_grad_()
    grad_out = torch.randn(25, 4, 30, generator=gen, dtype=torch.float64)
    alpha, beta = 0.5, 0.75  # exact in float32, as snnTorch stores them

    results = []
    for run in (reference, rule_run):
        spk, mem = run(x, alpha, beta, reset, make_surrogate())
        (grad,) = torch.autograd.grad((spk * grad_out).sum() + mem.sum(), x)
        results.append((spk.double(), mem.double(), grad))
    (spk_ref, mem_ref, grad_ref), (spk, mem, grad) = results
    assert torch.equal(spk, spk_ref)
    torch.testing.assert_close(mem, mem_ref)
    # snnTorch's surrogates compute their spikes and derivatives in float32.
    torch.testing.assert_close(grad, grad_ref, rtol=1e-5, atol=1e-6)
    assert 0.05 < spk.mean() < 0.99


@pytest.mark.parametrize("reset", ["zero", "none"])
def test_tssl_forward_equals_stock_snntorch(reset):
    x = torch.rand(20, 3, 16, generator=torch.Generator().manual_seed(1)) * 3
    spk_ref, mem_ref = stock_synaptic_run(x, 0.5, 0.75, reset, surrogate.atan())
    spk, _, mem = SynapticSequence(alpha=0.5, beta=0.75, reset_mechanism=reset, output=True)(x)
    assert torch.equal(spk, spk_ref)
    torch.testing.assert_close(mem, mem_ref)


def test_membrane_gradient_reaches_the_input_with_tssl():
    x = (torch.rand(10, 2, 5, dtype=torch.float64) * 2).requires_grad_()
    _, _, mem = SynapticSequence(output=True)(x)
    (grad,) = torch.autograd.grad(mem.sum(), x)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_tssl_sequence_backward_is_the_rule_applied_to_the_synaptic_current():
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(30, 8, 12, generator=gen, dtype=torch.float64) * 3).requires_grad_()
    grad_spike, grad_syn = torch.randn(2, 30, 8, 12, generator=gen, dtype=torch.float64)
    neuron = SynapticSequence(tau_s=4.0, tau_m=8.0, spike_grad=tssl(tau_s=4.0), output=True)
    spk, syn, _ = neuron(x)
    ((spk * grad_spike).sum() + (syn * grad_syn).sum()).backward()
    mem, spike = _math.lif_sequence_forward(syn.detach(), 1 - 1 / 8, 1.0, "zero")
    grad_current = _math.tssl_sequence_backward(
        grad_spike, mem, spike, 1 - 1 / 8, 1.0, "zero", _math.TSSLOptions(tau_s=4.0)
    )
    # The synapse filter is the PSC filter with tau_s = 4: its transpose carries dL/dI (rule + direct) to x.
    torch.testing.assert_close(x.grad, _math.psc_filter_transpose(grad_current + grad_syn, 4.0))


def test_conv_maps_and_framewise_cnn():
    torch.manual_seed(0)
    net = nn.Sequential(
        FrameWise(nn.Conv2d(1, 4, 5, bias=False)),
        SynapticSequence(),
        FrameWise(SumPool2d(2)),
        FrameWise(nn.Flatten()),
        nn.Linear(4 * 6 * 6, 10, bias=False),
        SynapticSequence(),
    )
    x = torch.rand(5, 3, 1, 16, 16) * 4
    out = net(x)
    assert out.shape == (5, 3, 10)
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in net.parameters())


def test_single_time_step_and_float64():
    x = torch.rand(1, 4, 7, dtype=torch.float64).requires_grad_()
    spk = SynapticSequence(alpha=0.0, beta=0.5)(x * 3)
    assert spk.shape == (1, 4, 7) and spk.dtype == torch.float64
    spk.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_time_constants_and_decays_are_equivalent():
    a = SynapticSequence(tau_s=4.0, tau_m=8.0)
    b = SynapticSequence(alpha=0.75, beta=0.875)
    assert a.alpha.item() == b.alpha.item() and a.beta.item() == b.beta.item()


def test_state_dict_matches_stock_synaptic_buffers_and_pickles():
    neuron = SynapticSequence(spike_grad=tssl())
    assert set(neuron.state_dict()) == {"threshold", "graded_spikes_factor", "reset_mechanism_val", "beta", "alpha"}
    other = SynapticSequence(spike_grad=surrogate.atan())
    other.load_state_dict(neuron.state_dict(), strict=True)
    clone = pickle.loads(pickle.dumps(neuron))
    x = torch.rand(5, 2, 3) * 3
    assert torch.equal(clone(x), neuron(x))
    assert torch.equal(copy.deepcopy(neuron)(x), neuron(x))


@pytest.mark.parametrize(
    "x,error,match",
    [
        (torch.rand(5), ValueError, "dimensions"),
        (torch.rand(0, 2, 3), ValueError, "time step"),
        (torch.ones(5, 2, 3, dtype=torch.int64), TypeError, "floating"),
        (torch.ones(5, 2, 3, dtype=torch.complex64), TypeError, "floating"),
        (torch.tensor([[[float("nan")]]]), ValueError, "NaN"),
        (torch.tensor([[[float("inf")]]]), ValueError, "NaN or inf"),
        ([[1.0]], TypeError, "torch.Tensor"),
    ],
)
def test_bad_input_is_rejected(x, error, match):
    with pytest.raises(error, match=match):
        SynapticSequence()(x)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"tau_s": 0.0}, ValueError, "tau_s"),
        ({"tau_m": -2.0}, ValueError, "tau_m"),
        ({"tau_s": 0.5}, ValueError, "tau_s"),
        ({"alpha": 1.0}, ValueError, "alpha"),
        ({"beta": -0.1}, ValueError, "beta"),
        ({"alpha": 0.5, "tau_s": 2.0}, ValueError, "alpha and tau_s must not both"),
        ({"threshold": 0.0}, ValueError, "threshold"),
        ({"threshold": -1.0}, ValueError, "threshold"),
        ({"threshold": "1"}, TypeError, "threshold"),
        ({"reset_mechanism": "hard"}, ValueError, "reset_mechanism"),
        ({"spike_grad": 3}, TypeError, "spike_grad"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        SynapticSequence(**kwargs)


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        ({"tau_s": 0}, ValueError, "tau_s"),
        ({"max_inv_du": -1.0}, ValueError, "max_inv_du"),
        ({"warmup": 1}, TypeError, "warmup"),
        ({"warmup_width": 0.0}, ValueError, "warmup_width"),
        ({"reset_term": "yes"}, TypeError, "reset_term"),
    ],
)
def test_bad_rule_options_are_rejected(kwargs, error, match):
    with pytest.raises(error, match=match):
        tssl(**kwargs)


def test_rule_is_stateless_and_picklable():
    rule = tssl(tau_s=4.0, warmup=False)
    assert list(rule.parameters()) == [] and list(rule.buffers()) == []
    assert pickle.loads(pickle.dumps(rule)).options == rule.options
    assert "tau_s=4.0" in repr(rule)


def test_framewise_and_sumpool():
    y = FrameWise(SumPool2d(2))(torch.ones(3, 2, 1, 4, 4))
    torch.testing.assert_close(y, torch.full((3, 2, 1, 2, 2), 4.4))
    with pytest.raises(TypeError, match="module"):
        FrameWise(lambda x: x)
    with pytest.raises(ValueError, match="kernel_size"):
        SumPool2d(0)


def test_output_is_a_named_tuple_or_the_spike_tensor():
    x = torch.rand(3, 2, 4) * 3
    out = SynapticSequence(output=True)(x)
    assert isinstance(out, SynapticOutput) and out._fields == ("spk", "syn", "mem")
    spk, syn, mem = out
    assert spk is out.spk and syn.shape == mem.shape == x.shape
    assert type(SynapticSequence()(x)) is torch.Tensor  # a tensor unpacks along time: ask for output=True


def test_per_step_input_is_refused_with_the_fix():
    with pytest.raises(ValueError, match=r"2-D tensor of shape \(16, 100\).*T=16 steps.*unsqueeze"):
        SynapticSequence()(torch.rand(16, 100))
    assert SynapticSequence()(torch.rand(16, 100).unsqueeze(0)).shape == (1, 16, 100)


@pytest.mark.parametrize("shape", [(5, 0, 8), (5, 4, 0), (3, 0, 2, 4, 4)])
@pytest.mark.parametrize("rule", ["tssl", "stbp-rectangular", "atan", "triangular", "snntorch-atan"])
def test_empty_batch_gives_empty_output_with_every_rule(shape, rule):
    spike_grad = surrogate.atan() if rule == "snntorch-atan" else rule
    x = torch.rand(shape, requires_grad=True)
    out, state = SynapticSequence(spike_grad=spike_grad, output=True)(x, SynapticState())
    (out.spk.sum() + out.mem.sum()).backward()
    assert out.spk.shape == out.syn.shape == out.mem.shape == x.grad.shape == shape
    assert state.mem.shape == shape[1:]


def test_backend_is_chosen_from_the_device_dtype_and_environment(monkeypatch):
    cpu, meta = torch.empty(2), torch.empty(2, device="meta")
    assert _math.resolve_backend("auto", cpu) == "torch" and _math.resolve_backend("auto", meta) == "torch"
    assert _math.resolve_backend("triton", cpu.double()) == "torch"  # the kernels compute in float32
    monkeypatch.setattr(_math.backend, "triton_interpreted", lambda: False)
    if _math.triton_available():
        with pytest.raises(ValueError, match="backend='triton' runs CUDA tensors"):
            _math.resolve_backend("triton", cpu)
    monkeypatch.setattr(_math.backend, "triton_available", lambda: False)
    with pytest.raises(RuntimeError, match="needs the triton package"):
        _math.resolve_backend("triton", cpu)
    monkeypatch.setenv(_math.backend.BACKEND_VARIABLE, "torch")
    assert SynapticSequence().backend == "torch" and SynapticSequence(backend="auto").backend == "auto"
    assert "backend='torch'" in repr(SynapticSequence())


@pytest.mark.parametrize("rule", ["tssl", "stbp-gaussian", "atan"])
def test_sequence_paths_read_no_tensor_data(rule):
    """The rules' sequence paths run on the meta device (which has no data), forward and backward."""
    x = torch.empty(5, 2, 4, device="meta", requires_grad=True)
    neuron = rules.LIFParameters(*(torch.tensor(v, device="meta") for v in (0.5, 0.8, 1.0)), "zero")
    spk, syn, mem, final = rules.get(rule).sequence_forward(x, neuron, output=True, state=(None,) * 4)
    loss = spk.sum() + mem.sum() + final[1].sum() + (0 if final[3] is None else final[3].sum())
    loss.backward()
    assert spk.device.type == "meta" and x.grad.shape == x.shape
