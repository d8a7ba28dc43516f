"""The fused, chunked sequence path equals the plain whole-tensor formulation (tests/reference.py)."""

import pytest
import torch
from reference import plain_lif, plain_removed, plain_scan, plain_tssl_backward
from snntorch import surrogate

from snntorch_tssl import SynapticSequence, _math, stbp, tssl

DTYPES = [torch.float32, torch.float64]
SHAPES = [(1, 3, 7), (2, 4, 5), (23, 3, 11), (40, 2, 3, 4, 5)]  # T = 1, tiny, [T, B, F], conv maps [T, B, C, H, W]


def case(shape, dtype, seed=0, scale=1.5):
    gen = torch.Generator().manual_seed(seed)
    current = torch.rand(shape, generator=gen, dtype=torch.float64) * scale
    grad = torch.randn(shape, generator=gen, dtype=torch.float64)
    return current.to(dtype), grad.to(dtype)


def assert_close_on_scale(actual, expected, ulps):
    """Equal within ``ulps`` roundings of the largest magnitude: the backward recursions sum terms of both
    signs in a different order than the plain formulation, so rounding is bounded on the gradients' scale."""
    eps = torch.finfo(expected.dtype).eps
    torch.testing.assert_close(actual, expected, rtol=ulps * eps, atol=ulps * eps * expected.abs().max().clamp(min=1))


@pytest.fixture(
    params=[None, 37, 7, 1 << 22], ids=["default-tiles", "many-uneven-tiles", "narrow-uneven-blocks", "one-tile"]
)
def chunk_elements(request, monkeypatch):
    if request.param is not None:
        monkeypatch.setattr(_math.tiling, "CHUNK_ELEMENTS", request.param)
    return request.param


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reverse", [False, True])
def test_exponential_scan_is_bit_identical(dtype, shape, reverse):
    x, _ = case(shape, dtype)
    for decay in (0.0, 2 / 3, torch.tensor(0.75, dtype=dtype)):
        assert torch.equal(_math.exponential_scan(x, decay, reverse), plain_scan(x, decay, reverse))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reset", _math.RESET_MECHANISMS)
@pytest.mark.parametrize("synapse", [None, "kept", "not kept"])
def test_lif_scan_is_bit_identical(dtype, shape, reset, synapse, chunk_elements):
    x, _ = case(shape, dtype)
    beta, threshold, alpha = (torch.tensor(v, dtype=dtype) for v in (0.8, 1.0, 0.6))
    current = x if synapse is None else plain_scan(x, alpha)
    mem_ref, spike_ref = plain_lif(current, beta, threshold, reset)
    scan = _math.lif_sequence_scan(
        x,
        beta,
        threshold,
        reset,
        synapse_decay=None if synapse is None else alpha,
        keep_syn=synapse == "kept",
        keep_mem_after_reset=True,
        warmup_tau_s=3.0,
    )
    assert torch.equal(scan.mem, mem_ref) and torch.equal(scan.spike, spike_ref)
    assert torch.equal(scan.mem_after_reset, mem_ref - plain_removed(mem_ref, spike_ref, threshold, reset))
    assert torch.equal(scan.warmup, plain_scan(spike_ref, 1 - 1 / 3.0) < 0.25 / 3.0)
    assert (scan.syn is None) == (synapse != "kept") and (scan.syn is None or torch.equal(scan.syn, current))
    assert 0 < spike_ref.mean() < 1 or shape[0] <= 2


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reset", _math.RESET_MECHANISMS)
@pytest.mark.parametrize("warmup,reset_term,max_inv_du", [(True, True, 8.0), (False, True, 8.0), (True, False, 2.0),
                                                          (False, False, float("inf"))])  # fmt: skip
@pytest.mark.parametrize("with_mem_grad", [False, True])
def test_tssl_backward_equals_plain_formulation(
    dtype, shape, reset, warmup, reset_term, max_inv_du, with_mem_grad, chunk_elements
):
    current, grad = case(shape, dtype, seed=1)
    mem_grad = case(shape, dtype, seed=2)[1] if with_mem_grad else None
    beta, threshold = 0.75, 1.0
    mem, spike = plain_lif(current, beta, threshold, reset)
    options = _math.TSSLOptions(tau_s=2.5, max_inv_du=max_inv_du, warmup=warmup, reset_term=reset_term)
    expected = plain_tssl_backward(grad, mem, spike, beta, threshold, reset, options, mem_grad)
    scan = _math.lif_sequence_scan(current, beta, threshold, reset, warmup_tau_s=2.5)
    for spikes, warm in ((spike, None), (None, None), (None, scan.warmup)):
        actual = _math.tssl_sequence_backward(grad, mem, spikes, beta, threshold, reset, options, mem_grad, warm=warm)
        assert actual.dtype == dtype
        assert_close_on_scale(actual, expected, ulps=4)


def plain_neuron(x, alpha, beta, threshold, reset):
    """SynapticSequence's forward and TSSL gradient by the plain formulation (no autograd)."""
    syn = plain_scan(x, alpha)
    mem, spike = plain_lif(syn, beta, threshold, reset)
    after = mem - plain_removed(mem, spike, threshold, reset)
    return syn, mem, spike, after


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reset", _math.RESET_MECHANISMS)
def test_synaptic_sequence_equals_plain_formulation(dtype, shape, reset, chunk_elements):
    x, grad_spk = case(shape, dtype, seed=3, scale=3.0)
    grad_mem = case(shape, dtype, seed=4)[1]
    rule = tssl(tau_s=3.0)
    neuron = SynapticSequence(alpha=0.5, beta=0.75, reset_mechanism=reset, spike_grad=rule, output=True)
    x = x.requires_grad_()
    spk, syn, mem = neuron(x)
    alpha, beta, threshold = (torch.tensor(v, dtype=dtype) for v in (0.5, 0.75, 1.0))
    syn_ref, mem_ref, spk_ref, after_ref = plain_neuron(x.detach(), alpha, beta, threshold, reset)
    assert torch.equal(spk, spk_ref) and torch.equal(syn, syn_ref) and torch.equal(mem, after_ref)
    (grad,) = torch.autograd.grad((spk * grad_spk).sum() + (mem * grad_mem).sum(), x)
    options = rule.options._replace(warmup_width=0.2)  # the paper's width: SynapticSequence has a synapse
    grad_syn = plain_tssl_backward(grad_spk, mem_ref, spk_ref, beta, threshold, reset, options, grad_mem)
    expected = plain_scan(grad_syn, alpha, reverse=True)
    assert_close_on_scale(grad, expected, ulps=8)


def test_step_function_equals_comparison():
    x = torch.tensor([-2.0, -1e-30, -0.0, 0.0, 1e-30, 1e-45, 3.0, float("inf"), -float("inf")])
    for dtype in DTYPES:
        v = x.to(dtype)
        assert torch.equal(_math.step_function(v), (v > 0).to(dtype))
        assert not torch.signbit(_math.step_function(v)).any()


def test_timing_factor_is_zero_where_increment_is_not_positive():
    increment = torch.tensor([-1.0, -0.0, 0.0, 1e-30, 0.5, 0.01])
    spike = torch.tensor([1.0, 1.0, 1.0, 1.0, 1.0, 0.0])
    previous = torch.zeros(6)
    expected = torch.tensor([0.0, 0.0, 0.0, 8.0, 2.0, 0.0])
    assert torch.equal(_math.timing_factor(spike, previous + increment, previous, 1.0, 8.0), expected)
    assert _math.timing_factor(spike, previous + increment, previous, 1.0, float("inf"))[3] > 1e29


def test_timing_factor_is_zero_where_the_membrane_was_above_threshold_before_the_step():
    # u_hat[t-1] <= V: the crossing lies in the step (u_hat[t-1] = V included); above V it was pinned before it
    previous = torch.tensor([0.5, 1.0, 1.0 + 1e-6, 1.5, 3.0])
    mem = previous + 0.5
    expected = torch.tensor([2.0, 2.0, 0.0, 0.0, 0.0])
    assert torch.equal(_math.timing_factor(torch.ones(5), mem, previous, 1.0, 8.0), expected)


def test_subtract_reset_coefficient_is_at_most_one_and_the_others_are_unbounded():
    timing = torch.tensor([0.0, 1.0, 8.0])
    spike = (timing > 0).float()
    removed = spike * 1.0
    subtract = _math.recursion_coefficient(timing, 0.5, removed, 1.0, True, "subtract")
    assert torch.equal(subtract, torch.tensor([0.5, 1.0, 1.0]))  # 0.5 + 0.5 * m, at most 1
    zero = _math.recursion_coefficient(timing, 0.5, removed * 1.2, 1.0 - spike, True, "zero")
    assert torch.allclose(zero, torch.tensor([0.5, 0.6, 4.8]))  # the paper's (1 - beta) u m, not bounded


def saved_bytes(fn):
    storages = {}

    def pack(tensor):
        storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        out = fn()
    return out, sum(storages.values())


@pytest.mark.parametrize("warmup", [True, False])
def test_tssl_sequence_saves_only_the_membrane_and_a_boolean_warmup_mask(warmup):
    x = (torch.rand(50, 8, 16) * 3).requires_grad_()
    neuron = SynapticSequence(spike_grad=tssl(warmup=warmup))
    spk, saved = saved_bytes(lambda: neuron(x))
    per_element = saved / x.numel()
    assert per_element <= (4 + 1 if warmup else 4) + 0.01  # float membrane (+ bool mask); spikes are recomputed
    spk.sum().backward()
    _, surrogate_saved = saved_bytes(lambda: SynapticSequence(spike_grad=surrogate.atan())(x))
    assert saved < surrogate_saved


def test_inference_saves_nothing_and_matches_training_forward():
    x = torch.rand(20, 4, 6) * 3
    neuron = SynapticSequence(output=True)
    with torch.no_grad():
        inference = neuron(x)
    training = neuron(x.clone().requires_grad_())
    for a, b in zip(inference, training, strict=True):
        assert torch.equal(a, b.detach())


def test_tiles_cover_the_sequence_and_are_larger_off_the_cpu():
    cpu = torch.empty(1000, 64, 400)
    tiling = _math.split_tiles(cpu)
    assert tiling.blocks == [slice(0, 64 * 400)] and tiling.steps == _math.CHUNK_ELEMENTS // (64 * 400)
    assert tiling.chunks[0] == (0, tiling.steps) and tiling.chunks[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in zip(tiling.chunks, tiling.chunks[1:], strict=False))
    assert _math.split_tiles(cpu, reverse=True).chunks == tiling.chunks[::-1]
    accelerator = _math.split_tiles(torch.empty(1000, 64, 400, device="meta"))
    assert accelerator.steps == _math.CHUNK_ELEMENTS_ACCELERATOR // (64 * 400)
    wide = _math.split_tiles(torch.empty(3, 1, 3 * _math.CHUNK_ELEMENTS + 5))  # blocks of neurons, one step per chunk
    assert len(wide.blocks) == 4 and wide.steps == 1 and wide.chunks == [(0, 1), (1, 2), (2, 3)]
    widths = [block.stop - block.start for block in wide.blocks]
    assert sum(widths) == 3 * _math.CHUNK_ELEMENTS + 5 and max(widths) - min(widths) < len(widths)
    assert wide.blocks[0].start == 0 and all(
        a.stop == b.start for a, b in zip(wide.blocks, wide.blocks[1:], strict=False)
    )


def test_strided_inputs_give_the_results_of_contiguous_ones():
    x, grad = case((12, 5, 7), torch.float64, seed=5, scale=3.0)
    strided_x, strided_grad = (t.transpose(1, 2).contiguous().transpose(1, 2) for t in (x, grad))  # same values
    assert not strided_x.is_contiguous()
    scans = [_math.lif_sequence_scan(v, 0.8, 1.0, "zero", synapse_decay=0.6, warmup_tau_s=3.0) for v in (x, strided_x)]
    assert all(torch.equal(a, b) for a, b in zip(scans[0][:2], scans[1][:2], strict=True))
    options = _math.TSSLOptions()
    grads = [
        _math.tssl_sequence_backward(g, scan.mem, None, 0.8, 1.0, "zero", options, warm=scan.warmup, synapse_decay=0.6)
        for g, scan in ((grad, scans[0]), (strided_grad, scans[1]))
    ]
    assert torch.equal(grads[0], grads[1]) and grads[1].shape == x.shape


def removed_by_reset(mem, spike, threshold, reset):
    return mem * spike if reset == "zero" else spike * threshold if reset == "subtract" else torch.zeros_like(mem)


@pytest.mark.parametrize("reset", _math.RESET_MECHANISMS)
def test_surrogate_backward_equals_autograd_of_the_plain_loop(reset, chunk_elements):
    """BPTT of the synapse + LIF with a surrogate spike derivative, the reset differentiated through the spike."""
    x, grad_spike = case((17, 3, 5), torch.float64, seed=6, scale=3.0)
    grad_after, grad_syn = case((17, 3, 5), torch.float64, seed=7)[1], case((17, 3, 5), torch.float64, seed=8)[1]
    alpha, beta, threshold = 0.5, 0.75, 1.0
    rule = stbp("gaussian", a=0.5)
    xr = x.clone().requires_grad_()
    syn, after, loss = torch.zeros_like(x[0]), torch.zeros_like(x[0]), 0.0
    for t in range(x.shape[0]):
        syn = alpha * syn + (1 - alpha) * xr[t]
        mem = beta * after + syn
        spike = rule(mem - threshold)
        after = mem - removed_by_reset(mem, spike, threshold, reset)
        loss = loss + (spike * grad_spike[t]).sum() + (after * grad_after[t]).sum() + (syn * grad_syn[t]).sum()
    (expected,) = torch.autograd.grad(loss, xr)
    scan = _math.lif_sequence_scan(x, beta, threshold, reset, synapse_decay=alpha)
    actual = _math.surrogate_sequence_backward(
        grad_spike,
        scan.mem,
        beta,
        threshold,
        reset,
        rule.derivative,
        grad_after,
        grad_current=grad_syn,
        synapse_decay=alpha,
    )
    assert_close_on_scale(actual, expected, ulps=16)


@pytest.mark.parametrize("rule", ["tssl", "surrogate"])
@pytest.mark.parametrize("reset", _math.RESET_MECHANISMS)
def test_backward_passes_chain_over_chunks(rule, reset, chunk_elements):
    """A sequence cut in two, the second pass starting from the first one's final state: the forward is
    bit-identical to one pass and the chained backward (state gradients handed back) equals one pass."""
    x, grad_spike = case((23, 2, 6), torch.float64, seed=9, scale=3.0)
    grad_after, grad_syn = case((23, 2, 6), torch.float64, seed=10)[1], case((23, 2, 6), torch.float64, seed=11)[1]
    alpha, beta, threshold, options = 0.5, 0.75, 1.0, _math.TSSLOptions(tau_s=2.0)
    forward = dict(synapse_decay=alpha, warmup_tau_s=options.tau_s, keep_syn=True, keep_mem_after_reset=True)

    def backward(k, scan, initial_mem=None, grad_final=None):
        common = dict(grad_current=grad_syn[k], synapse_decay=alpha, grad_final=grad_final, return_state_grads=True)
        if rule == "tssl":
            args = (grad_spike[k], scan.mem, None, beta, threshold, reset, options, grad_after[k])
            return _math.tssl_sequence_backward(*args, warm=scan.warmup, initial_mem=initial_mem, **common)
        derivative = stbp("sigmoid", a=0.4).derivative
        return _math.surrogate_sequence_backward(
            grad_spike[k], scan.mem, beta, threshold, reset, derivative, grad_after[k], **common
        )

    whole = _math.lif_sequence_scan(x, beta, threshold, reset, **forward)
    expected, _ = backward(slice(None), whole)
    first = _math.lif_sequence_scan(x[:9], beta, threshold, reset, **forward)
    second = _math.lif_sequence_scan(x[9:], beta, threshold, reset, initial=first.final, **forward)
    for name in ("mem", "spike", "mem_after_reset", "warmup", "syn"):
        assert torch.equal(torch.cat([getattr(first, name), getattr(second, name)]), getattr(whole, name)), name
    assert all(torch.equal(a, b) for a, b in zip(second.final, whole.final, strict=True))
    late, state = backward(slice(9, None), second, initial_mem=first.final.mem)
    early, _ = backward(slice(None, 9), first, grad_final=state)
    assert_close_on_scale(torch.cat([early, late]), expected, ulps=8)
