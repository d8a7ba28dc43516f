"""The Triton kernels equal the PyTorch passes they replace: forward bit for bit, backward to rounding.

The kernels are compared with the package's PyTorch functions themselves (not with stored numbers), so
they follow any change of the math. Without a GPU they run in Triton's interpreter on CPU tensors
(``TRITON_INTERPRET=1``, set by conftest.py before any kernel is defined); it is slow, so the shapes
are small: 21 neurons in blocks of 16 (two programs, the second one partial). On a GPU the same tests
run the compiled kernels on CUDA tensors. test_triton_compile.py compiles them for a GPU.
"""

from __future__ import annotations

import itertools

import pytest
import torch

from snntorch_tssl import SynapticSequence, _math, rules, stbp, tssl

triton = pytest.importorskip("triton", reason="triton does not import: SynapticSequence uses the PyTorch path")

from snntorch_tssl._math import lif_triton, surrogate_triton, tssl_triton  # noqa: E402

CUDA = torch.cuda.is_available()
DEVICE = torch.device("cuda" if CUDA else "cpu")
pytestmark = [
    pytest.mark.skipif(
        not CUDA and not _math.backend.triton_interpreted(),
        reason="no GPU, and TRITON_INTERPRET=1 was not set before the kernels were defined",
    ),
    # the interpreter evaluates 1 / du with NumPy, which warns where du = 0 (the kernel then clamps it)
    pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning"),
]

STEPS = [1, 2, 5, 33, 100]
NEURONS = (3, 7)  # 21 neurons: blocks of 16 leave a partial second program


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(lif_triton, "BLOCK", 16)


def make(steps: int, seed: int, scale: float = 1.6, shape=NEURONS) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand((steps, *shape), generator=generator) * scale).to(DEVICE)


def gaussian(steps: int, seed: int, shape=NEURONS) -> torch.Tensor:
    return torch.randn((steps, *shape), generator=torch.Generator().manual_seed(seed)).to(DEVICE)


def constants(per_neuron: bool):
    """alpha, beta, threshold: 0-dim tensors, or per-neuron ones for beta and threshold."""
    alpha = torch.tensor(0.6, device=DEVICE)
    if not per_neuron:
        return alpha, torch.tensor(0.8, device=DEVICE), torch.tensor(1.0, device=DEVICE)
    beta = torch.linspace(0.5, 0.95, NEURONS[1], device=DEVICE)
    return alpha, beta, torch.linspace(0.8, 1.2, NEURONS[1], device=DEVICE)


def initial_state(seed: int) -> _math.LIFState:
    generator = torch.Generator().manual_seed(seed)
    syn, mem, psc = (torch.rand(NEURONS, generator=generator).to(DEVICE) for _ in range(3))
    return _math.LIFState(syn, mem * 1.2, psc * 0.2)


def assert_close_on_scale(actual: torch.Tensor, expected: torch.Tensor, relative: float = 1e-6) -> None:
    """Equal within ``relative`` of the expected tensor's largest magnitude (the recursions sum terms of both
    signs in another order than the PyTorch pass, so rounding is bounded on the gradients' scale)."""
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    scale = expected.abs().max().clamp(min=torch.finfo(expected.dtype).tiny)
    error = (actual - expected).abs().max()
    assert error <= relative * scale, f"error {error.item():.3g} > {relative} x {scale.item():.3g}"


# --------------------------------------------------------------------------------------------------
# Forward kernel
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("steps", STEPS)
@pytest.mark.parametrize("reset", _math.RESET_MECHANISMS)
def test_forward_kernel_is_bit_identical(steps, reset):
    x = make(steps, seed=steps)
    alpha, beta, threshold = constants(per_neuron=steps == 33)
    for initial in (None, initial_state(steps)) if steps > 1 else (None,):
        kwargs = dict(synapse_decay=alpha, keep_syn=True, keep_mem_after_reset=True, warmup_tau_s=2.5, initial=initial)
        expected = _math.lif_sequence_scan(x, beta, threshold, reset, **kwargs)
        actual = lif_triton.lif_sequence_scan_triton(x, beta, threshold, reset, **kwargs)
        for name in ("mem", "spike", "mem_after_reset", "warmup", "syn"):
            assert torch.equal(getattr(actual, name), getattr(expected, name)), name
        for name in ("syn", "mem", "psc"):
            assert torch.equal(getattr(actual.final, name), getattr(expected.final, name)), f"final {name}"
    assert 0 < expected.spike.mean() < 1 or steps <= 2


@pytest.mark.parametrize(
    "synapse,keep_syn,keep_after,trace",
    [(False, False, False, False), (True, False, False, False), (True, True, False, True), (False, False, True, True)],
)
def test_forward_kernel_options(synapse, keep_syn, keep_after, trace):
    x = make(12, seed=1).transpose(1, 2).contiguous().transpose(1, 2)[:, :, ::1]  # strided over neurons
    x = torch.cat([x, x], dim=1)[:, ::2]  # non-contiguous: a stride of 2 over the batch
    assert not x.is_contiguous()
    alpha, beta, threshold = constants(per_neuron=False)
    initial = _math.LIFState(None, torch.full(NEURONS, 0.5, device=DEVICE), torch.full(NEURONS, 0.1, device=DEVICE))
    kwargs = dict(
        synapse_decay=alpha if synapse else None,
        keep_syn=keep_syn,
        keep_mem_after_reset=keep_after,
        warmup_tau_s=3.0 if trace else None,
        initial=initial,
    )
    expected = _math.lif_sequence_scan(x, 0.8, 1.0, "zero", **kwargs)
    actual = lif_triton.lif_sequence_scan_triton(x, beta, threshold, "zero", **kwargs)
    pairs = itertools.chain(zip(actual[:5], expected[:5], strict=True), zip(actual.final, expected.final, strict=True))
    for left, right in pairs:
        assert (left is None and right is None) or torch.equal(left, right)


def test_forward_kernel_takes_the_time_constant_as_a_device_scalar():
    """tau_s may be the neuron's, a 0-dim tensor (never read on the host); 4 steps is exact either way."""
    x = make(15, seed=3)
    kwargs = dict(synapse_decay=0.5, keep_mem_after_reset=True)
    expected = _math.lif_sequence_scan(x, 0.8, 1.0, "zero", warmup_tau_s=4.0, **kwargs)
    tau_s = torch.tensor(4.0, device=DEVICE)
    actual = lif_triton.lif_sequence_scan_triton(x, 0.8, 1.0, "zero", warmup_tau_s=tau_s, **kwargs)
    assert torch.equal(actual.warmup, expected.warmup) and torch.equal(actual.final.psc, expected.final.psc)
    assert 0 < expected.warmup.float().mean() < 1


def test_forward_kernel_with_a_python_float_decay_rounds_like_pytorch():
    x = make(20, seed=2)
    for decay in (0.6, 0.1, 2 / 3):
        expected = _math.lif_sequence_scan(x, 0.8, 1.0, "zero", synapse_decay=decay, keep_syn=True)
        actual = lif_triton.lif_sequence_scan_triton(x, 0.8, 1.0, "zero", synapse_decay=decay, keep_syn=True)
        assert torch.equal(actual.syn, expected.syn) and torch.equal(actual.spike, expected.spike)


# --------------------------------------------------------------------------------------------------
# TSSL-BP backward kernel
# --------------------------------------------------------------------------------------------------

OPTIONS = {
    "default": _math.TSSLOptions(tau_s=2.5),
    "no-warmup": _math.TSSLOptions(tau_s=2.5, warmup=False),
    "no-reset-term-cap-2": _math.TSSLOptions(tau_s=2.5, max_inv_du=2.0, reset_term=False),
    "bare-uncapped": _math.TSSLOptions(tau_s=4.0, max_inv_du=float("inf"), warmup=False, reset_term=False),
    "wide-warmup": _math.TSSLOptions(tau_s=1.0, warmup_width=1.0),
    "warmup-keeps-timing": _math.TSSLOptions(tau_s=1.0, warmup_keeps_timing=True),
}


def tssl_case(steps: int, reset: str, options, *, full: bool, per_neuron: bool = False, seed: int = 0):
    """Arguments of a TSSL-BP backward: the forward of a random layer and random incoming gradients;
    ``full`` adds every optional input (membrane and current gradients, synapse, state at both ends)."""
    x = make(steps, seed=seed)
    alpha, beta, threshold = constants(per_neuron)
    initial = initial_state(seed + 1) if full else None
    scan = _math.lif_sequence_scan(
        x, beta, threshold, reset, synapse_decay=alpha, warmup_tau_s=options.tau_s, initial=initial
    )
    grad_spike, grad_after, grad_current = (gaussian(steps, seed + k) for k in (2, 3, 4))
    kwargs = {"synapse_decay": alpha if full else None, "return_state_grads": full}
    if full:
        final = _math.StateGradients(*(gaussian(1, seed + k)[0] for k in (5, 6, 7)))
        kwargs.update(grad_current=grad_current, initial_mem=initial.mem, grad_final=final)
    args = (grad_spike, scan.mem, beta, threshold, reset, options, grad_after if full else None, scan.warmup)
    return args, kwargs


def compare_tssl(args, kwargs):
    grad_spike, mem, beta, threshold, reset, options, grad_after, warm = args
    expected = _math.tssl_sequence_backward(
        grad_spike, mem, None, beta, threshold, reset, options, grad_after, warm=warm, **kwargs
    )
    actual = tssl_triton.tssl_sequence_backward_triton(*args, **kwargs)
    if not kwargs.get("return_state_grads"):
        expected, actual = (expected, None), (actual, None)
    assert_close_on_scale(actual[0], expected[0])
    for name in ("syn", "mem", "timing") if actual[1] is not None else ():
        assert_close_on_scale(getattr(actual[1], name), getattr(expected[1], name))
    return expected[0]


@pytest.mark.parametrize("steps", [1, 2, 5, 33])
@pytest.mark.parametrize("reset", _math.RESET_MECHANISMS)
@pytest.mark.parametrize("options", list(OPTIONS), ids=list(OPTIONS))
def test_tssl_backward_kernel_equals_pytorch(steps, reset, options):
    args, kwargs = tssl_case(steps, reset, OPTIONS[options], full=steps % 2 == 1, seed=steps)
    grad = compare_tssl(args, kwargs)
    assert grad.abs().sum() > 0


@pytest.mark.parametrize("reset", _math.RESET_MECHANISMS)
def test_tssl_backward_kernel_over_100_steps(reset):
    args, kwargs = tssl_case(100, reset, OPTIONS["default"], full=True, per_neuron=True, seed=5)
    compare_tssl(args, kwargs)


def test_tssl_backward_kernel_with_strided_and_missing_gradients():
    args, kwargs = tssl_case(17, "zero", OPTIONS["default"], full=True, seed=9)
    grad_spike, mem, beta, threshold, reset, options, grad_after, warm = args
    expanded = torch.ones((), device=DEVICE).expand(mem.shape)  # what spk.sum().backward() sends
    transposed = grad_after.transpose(1, 2).contiguous().transpose(1, 2)
    compare_tssl((expanded, mem, beta, threshold, reset, options, transposed, warm), kwargs)
    compare_tssl((torch.zeros_like(mem), mem, beta, threshold, reset, options, None, warm), kwargs)
    none_spike = tssl_triton.tssl_sequence_backward_triton(None, mem, beta, threshold, reset, options, None, warm)
    zero_spike = tssl_triton.tssl_sequence_backward_triton(
        torch.zeros_like(mem), mem, beta, threshold, reset, options, None, warm
    )
    assert torch.equal(none_spike, zero_spike)


# --------------------------------------------------------------------------------------------------
# Surrogate (BPTT) backward kernel
# --------------------------------------------------------------------------------------------------

SURROGATE_RULES = {
    "stbp-rectangular": stbp("rectangular", a=1.0),
    "stbp-polynomial": stbp("polynomial", a=2.0),
    "stbp-sigmoid": stbp("sigmoid", a=0.3),
    "stbp-gaussian": stbp("gaussian", a=0.5),
    "atan": rules.get("atan", alpha=3.0),
    "fast_sigmoid": rules.get("fast_sigmoid"),
    "sigmoid": rules.get("sigmoid", slope=5.0),
}


def curve_of(name: str) -> tuple[str, float]:
    rule = SURROGATE_RULES[name]
    return (name, rule.a) if name.startswith("stbp") else (name, *rule.params.values())


def compare_surrogate(name: str, steps: int, reset: str, *, full: bool, seed: int = 0):
    x = make(steps, seed=seed)
    alpha, beta, threshold = constants(per_neuron=full)
    scan = _math.lif_sequence_scan(x, beta, threshold, reset, synapse_decay=alpha)
    grad_spike, grad_after, grad_current = (gaussian(steps, seed + k) for k in (2, 3, 4))
    kwargs = {"synapse_decay": alpha, "return_state_grads": full}
    if full:
        final = _math.StateGradients(*(gaussian(1, seed + k)[0] for k in (5, 6)))
        kwargs.update(grad_current=grad_current, grad_final=final)
    rule = SURROGATE_RULES[name]
    args = (grad_spike, scan.mem, beta, threshold, reset)
    expected = _math.surrogate_sequence_backward(*args, rule.derivative, grad_after if full else None, **kwargs)
    actual = surrogate_triton.surrogate_sequence_backward_triton(
        *args, curve_of(name), grad_after if full else None, **kwargs
    )
    if not full:
        expected, actual = (expected, None), (actual, None)
    assert_close_on_scale(actual[0], expected[0])
    for field in ("syn", "mem") if full else ():
        assert_close_on_scale(getattr(actual[1], field), getattr(expected[1], field))
    assert expected[0].abs().sum() > 0


@pytest.mark.parametrize("name", list(SURROGATE_RULES))
@pytest.mark.parametrize("reset", _math.RESET_MECHANISMS)
def test_surrogate_backward_kernel_equals_pytorch(name, reset):
    compare_surrogate(name, 12, reset, full=reset != "none", seed=len(name))


@pytest.mark.parametrize("steps", [1, 2, 100])
def test_surrogate_backward_kernel_over_steps(steps):
    compare_surrogate("atan", steps, "zero", full=True, seed=steps)


# --------------------------------------------------------------------------------------------------
# SynapticSequence with backend="triton" against backend="torch"
# --------------------------------------------------------------------------------------------------

NEURON_RULES = {
    "tssl": lambda: tssl(tau_s=3.0),
    "tssl-bare": lambda: tssl(tau_s=3.0, warmup=False, reset_term=False),
    "stbp-gaussian": lambda: stbp("gaussian", a=0.5),
    "atan": lambda: "atan",
}


def run_neuron(backend: str, rule: str, x: torch.Tensor, reset: str = "zero", chunks: int = 1):
    """Spikes, membrane and input gradient of a SynapticSequence (optionally over chunks of the sequence)."""
    neuron = SynapticSequence(tau_s=3.0, tau_m=5.0, spike_grad=NEURON_RULES[rule](), reset_mechanism=reset, output=True)
    neuron.backend = backend
    x = x.detach().clone().requires_grad_()
    generator = torch.Generator().manual_seed(11)
    weights = (torch.randint(-8, 9, x.shape, generator=generator) / 8).to(
        device=DEVICE, dtype=x.dtype
    )  # exact in any dtype
    state, outputs = neuron.init_synaptic(), []
    for chunk in x.tensor_split(chunks):
        out, state = neuron(chunk, state)
        outputs.append(out)
    spk, mem = (torch.cat([getattr(out, name) for out in outputs]) for name in ("spk", "mem"))
    ((spk * weights).sum() + (mem * weights).sum()).backward()
    return spk, mem, x.grad


@pytest.mark.parametrize("rule", list(NEURON_RULES))
@pytest.mark.parametrize("reset", _math.RESET_MECHANISMS)
def test_synaptic_sequence_triton_equals_torch(rule, reset):
    x = make(9, seed=3, scale=2.5)
    spk, mem, grad = run_neuron("triton", rule, x, reset)
    spk_ref, mem_ref, grad_ref = run_neuron("torch", rule, x, reset)
    assert torch.equal(spk, spk_ref) and torch.equal(mem, mem_ref)
    assert_close_on_scale(grad, grad_ref)
    assert 0 < spk.mean() < 1


@pytest.mark.parametrize("rule", ["tssl", "atan"])
def test_chunked_triton_sequence_equals_one_call(rule):
    x = make(12, seed=4, scale=2.5)
    spk, mem, grad = run_neuron("triton", rule, x, chunks=3)
    spk_one, mem_one, grad_one = run_neuron("triton", rule, x)
    assert torch.equal(spk, spk_one) and torch.equal(mem, mem_one)
    assert_close_on_scale(grad, grad_one)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("rule", ["tssl", "atan"])
def test_low_precision_input_is_the_float32_triton_neuron_rounded(dtype, rule):
    x = make(8, seed=5, scale=2.5).to(dtype)
    spk, mem, grad = run_neuron("triton", rule, x)
    spk32, mem32, grad32 = run_neuron("triton", rule, x.float())
    spk_torch, _, _ = run_neuron("torch", rule, x)
    assert spk.dtype == grad.dtype == dtype
    assert torch.equal(spk, spk_torch) and torch.equal(spk.float(), spk32)
    assert torch.equal(mem, mem32.to(dtype)) and torch.equal(grad, grad32.to(dtype))


def test_non_contiguous_input_gives_the_results_of_a_contiguous_one():
    x = make(7, seed=6, scale=2.5).transpose(1, 2).contiguous().transpose(1, 2)
    assert not x.is_contiguous()
    for left, right in zip(run_neuron("triton", "tssl", x), run_neuron("triton", "tssl", x.contiguous()), strict=True):
        assert torch.equal(left, right)


def test_float64_and_stepped_rules_fall_back_to_pytorch():
    x = make(6, seed=7, scale=2.5).double()
    for left, right in zip(run_neuron("triton", "tssl", x), run_neuron("torch", "tssl", x), strict=True):
        assert torch.equal(left, right)
    stepped = SynapticSequence(spike_grad=lambda shift: (shift > 0).to(shift.dtype), backend="triton")
    assert stepped(x.float()).shape == x.shape


@pytest.mark.parametrize("shape", [(5, 0, 8), (5, 4, 0)])
@pytest.mark.parametrize("rule", ["tssl", "atan"])
def test_empty_batch_with_triton(shape, rule):
    x = torch.rand(shape, device=DEVICE, requires_grad=True)
    spk = SynapticSequence(spike_grad=NEURON_RULES[rule](), backend="triton")(x)
    spk.sum().backward()
    assert spk.shape == shape and x.grad.shape == shape
