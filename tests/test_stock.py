"""tssl() inside stock snnTorch neurons (step mode): golden stack, slow reference, sequences, serialization."""

import copy
import io
import pickle

import pytest
import snntorch as snn
import snntorch.functional as SF
import torch
from conftest import time_first
from reference import per_neuron, stock_leaky_neuron, tssl_neuron_backward
from snntorch import surrogate, utils
from torch import nn

from snntorch_tssl import SynapticSequence, _math, tssl
from snntorch_tssl.rules.tssl import TSSL, binding


def stock_paper_stack(golden: dict, shared: bool, init_hidden: bool) -> nn.ModuleList:
    """The paper's network from nn.Linear + stock snn.Synaptic, weights scaled by 1/tau_s."""
    tau_s, tau_m = golden["tau_s"], golden["tau_m"]
    rule = tssl(tau_s=tau_s)
    layers = []
    for weight in golden["weights"]:
        linear = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
        linear.weight.data.copy_(weight / tau_s)
        neuron = snn.Synaptic(
            alpha=1 - 1 / tau_s,
            beta=1 - 1 / tau_m,
            threshold=golden["threshold"],
            reset_mechanism="zero",
            reset_delay=False,
            init_hidden=init_hidden,
            spike_grad=rule if shared else tssl(tau_s=tau_s),
        )
        layers += [linear, neuron]
    return nn.ModuleList(layers)


def run_stock(net: nn.ModuleList, x: torch.Tensor, steps: int, init_hidden: bool) -> torch.Tensor:
    """Plain Python loop over time, the static input repeated; returns the output spikes [T, B, C]."""
    neurons = [m for m in net if isinstance(m, snn.SpikingNeuron)]
    if init_hidden:
        for neuron in neurons:
            neuron.reset_mem()
        states = None
    else:
        states = [neuron.reset_mem() for neuron in neurons]
    out = []
    for _ in range(steps):
        h = x
        for i, (linear, neuron) in enumerate(zip(net[::2], net[1::2], strict=True)):
            if init_hidden:
                h = neuron(linear(h))
            else:
                h, syn, mem = neuron(linear(h), *states[i])
                states[i] = (syn, mem)
        out.append(h)
    return torch.stack(out)


def max_rel_diff(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return ((actual - expected).abs().max() / expected.abs().max()).item()


# Each golden stack with both rule layouts (one shared instance, one per layer) and both state modes.
@pytest.mark.parametrize("shared,init_hidden", [(True, False), (False, True), (True, True), (False, False)])
def test_stock_synaptic_paper_stack_matches_golden(golden_stack, shared, init_hidden):
    net = stock_paper_stack(golden_stack, shared, init_hidden)
    spk = run_stock(net, golden_stack["x"], golden_stack["n_steps"], init_hidden)
    assert torch.equal(spk, time_first(golden_stack["out_spikes"]))
    out_psc = _math.psc_filter(spk, golden_stack["tau_s"])
    out_psc.backward(time_first(golden_stack["grad_out_psc"]))
    for linear, expected in zip(net[::2], golden_stack["grads"], strict=True):
        assert max_rel_diff(linear.weight.grad, expected * golden_stack["tau_s"]) <= 1e-5


def test_stock_synaptic_equals_synaptic_sequence(golden_stack):
    tau_s, tau_m = golden_stack["tau_s"], golden_stack["tau_m"]
    gen = torch.Generator().manual_seed(5)
    sizes = [40, 30, 20, 10]
    weights = [torch.randn(o, i, generator=gen) * 8.0 / i**0.5 for i, o in zip(sizes, sizes[1:], strict=False)]
    x = torch.rand(6, 40, generator=gen)
    steps = golden_stack["n_steps"]
    grad_out = torch.randn(steps, 6, 10, generator=gen)

    golden = dict(golden_stack, weights=weights, x=x)
    stock = stock_paper_stack(golden, shared=True, init_hidden=False)
    spk_stock = run_stock(stock, x, steps, init_hidden=False)

    layers = []
    for weight in weights:
        linear = nn.Linear(weight.shape[1], weight.shape[0], bias=False)
        linear.weight.data.copy_(weight)
        layers += [linear, SynapticSequence(tau_s=tau_s, tau_m=tau_m, spike_grad=tssl(tau_s=tau_s))]
    sequence = nn.Sequential(*layers)
    spk_sequence = sequence(x.expand(steps, *x.shape))

    assert torch.equal(spk_stock, spk_sequence)
    assert 0.05 < spk_stock.mean() < 0.9
    (spk_stock * grad_out).sum().backward()
    (spk_sequence * grad_out).sum().backward()
    for a, b in zip(stock[::2], sequence[::2], strict=True):
        assert max_rel_diff(a.weight.grad, b.weight.grad * tau_s) <= 1e-5


@pytest.mark.parametrize("reset", ["zero", "subtract", "none"])
@pytest.mark.parametrize("reset_delay", [True, False])
@pytest.mark.parametrize("init_hidden", [True, False])
def test_stock_synaptic_matches_slow_reference(reset, reset_delay, init_hidden):
    gen = torch.Generator().manual_seed(12)
    steps, batch, features, alpha, beta, threshold = 12, 3, 5, 0.5, 0.75, 1.0
    x = (torch.rand(steps, batch, features, generator=gen, dtype=torch.float64) * 0.9).requires_grad_()
    grad_out = torch.randn(steps, batch, features, generator=gen, dtype=torch.float64)
    lif = snn.Synaptic(
        alpha=alpha,
        beta=beta,
        reset_mechanism=reset,
        reset_delay=reset_delay,
        init_hidden=init_hidden,
        spike_grad=tssl(),
    )
    syn, mem = lif.reset_mem()
    spikes = []
    for step in x:
        if init_hidden:
            spikes.append(lif(step))
        else:
            spk, syn, mem = lif(step, syn, mem)
            spikes.append(spk)
    spk = torch.stack(spikes)
    (spk * grad_out).sum().backward()

    current = _math.exponential_scan(x.detach(), alpha) / (1 - alpha)  # syn[t] = alpha syn[t-1] + x[t]
    drop = reset == "zero" and reset_delay

    def one(column_i, column_g):
        us, dus, ss = stock_leaky_neuron(column_i, beta, threshold, reset, reset_delay, drop_input=drop)
        grad_u = tssl_neuron_backward(
            column_g, us, dus, ss, tau_m=1 / (1 - beta), tau_s=1 / (1 - alpha), threshold=threshold, reset=reset
        )
        return [g * (1.0 - (ss[t - 1] if t > 0 and drop else 0.0)) for t, g in enumerate(grad_u)]

    flat = (steps, batch * features)
    grad_syn = per_neuron(one, current.reshape(flat), grad_out.reshape(flat)).reshape(steps, batch, features)
    assert 0.05 < spk.mean() < 0.95
    torch.testing.assert_close(x.grad, _math.exponential_scan(grad_syn, alpha, reverse=True) / (1 - alpha))


def leaky_layer_run(layer: snn.Leaky, current: torch.Tensor) -> torch.Tensor:
    mem = layer.reset_mem()
    spikes = []
    for step in current:
        spk, mem = layer(step, mem)
        spikes.append(spk)
    return torch.stack(spikes)


def reference_leaky_grad(current, grad_spike, beta, threshold, reset, reset_delay, **options):
    """dL/dI of one stock Leaky layer by the slow one-neuron loops of the specification."""
    tau_m = 1.0 / (1.0 - beta)

    def one(column_i, column_g):
        us, dus, ss = stock_leaky_neuron(column_i, beta, threshold, reset, reset_delay)
        return tssl_neuron_backward(column_g, us, dus, ss, tau_m=tau_m, threshold=threshold, reset=reset, **options)

    return per_neuron(one, current, grad_spike)


@pytest.mark.parametrize("reset", ["zero", "subtract", "none"])
@pytest.mark.parametrize("reset_delay", [True, False])
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"warmup": False},
        {"reset_term": False},
        {"tau_s": 2.0, "max_inv_du": 4.0, "warmup_width": 0.5},
        {"tau_s": 1.0, "warmup_keeps_timing": True},
    ],
)
def test_stock_leaky_net_matches_slow_reference(reset, reset_delay, options):
    gen = torch.Generator().manual_seed(11)
    steps, batch, n_in, n_hidden, n_out = 12, 3, 6, 5, 4
    beta, threshold = 0.75, 1.0
    x = torch.rand(steps, batch, n_in, generator=gen, dtype=torch.float64) * 1.5
    w1 = (torch.randn(n_hidden, n_in, generator=gen, dtype=torch.float64) * 0.5 + 0.12).requires_grad_()
    w2 = (torch.randn(n_out, n_hidden, generator=gen, dtype=torch.float64) * 0.8 + 0.35).requires_grad_()
    grad_out = torch.randn(steps, batch, n_out, generator=gen, dtype=torch.float64)
    full = {"tau_s": 3.0, "max_inv_du": 8.0, "warmup": True, "warmup_width": 0.2, "reset_term": True}
    full |= {"warmup_keeps_timing": False, **options}
    rule = tssl(**full)
    lif1, lif2 = (
        snn.Leaky(beta=beta, threshold=threshold, reset_mechanism=reset, reset_delay=reset_delay, spike_grad=rule)
        for _ in range(2)
    )
    cur1 = x @ w1.T
    spk1 = leaky_layer_run(lif1, cur1)
    cur2 = spk1 @ w2.T
    spk2 = leaky_layer_run(lif2, cur2)
    (spk2 * grad_out).sum().backward()

    kwargs = {"tau_s": full["tau_s"], "max_inv_du": full["max_inv_du"], "warmup": full["warmup"]}
    kwargs |= {"width": full["warmup_width"], "reset_term": full["reset_term"]}
    kwargs |= {"warmup_keeps_timing": full["warmup_keeps_timing"]}
    flat = (steps, batch * n_out)
    grad_cur2 = reference_leaky_grad(
        cur2.detach().reshape(flat), grad_out.reshape(flat), beta, threshold, reset, reset_delay, **kwargs
    ).reshape(steps, batch, n_out)
    grad_spk1 = grad_cur2 @ w2.detach()
    flat = (steps, batch * n_hidden)
    grad_cur1 = reference_leaky_grad(
        cur1.detach().reshape(flat), grad_spk1.reshape(flat), beta, threshold, reset, reset_delay, **kwargs
    ).reshape(steps, batch, n_hidden)
    assert 0.05 < spk1.mean() < 0.95 and 0.05 < spk2.mean() < 0.95, (spk1.mean(), spk2.mean())
    torch.testing.assert_close(w2.grad, torch.einsum("tbo,tbh->oh", grad_cur2, spk1.detach()))
    torch.testing.assert_close(w1.grad, torch.einsum("tbh,tbi->hi", grad_cur1, x))


def leaky_loop(layer, current, mem=None):
    """Step a neuron over [T, B, F] with explicit state; returns spikes and the membranes it returned."""
    mem = layer.reset_mem() if mem is None else mem
    spikes, mems = [], []
    for step in current:
        spk, mem = layer(step, mem)
        spikes.append(spk)
        mems.append(mem)
    return torch.stack(spikes), torch.stack(mems)


def input_grad(make_layer, current, grad_out, prefix=None):
    """Gradient of sum(spk * grad_out) w.r.t. the current, optionally after an earlier sequence `prefix`."""
    layer = make_layer()
    if prefix is not None:
        prefix(layer)
    current = current.clone().requires_grad_()
    spk, _ = leaky_loop(layer, current)
    (spk * grad_out).sum().backward()
    return spk, current.grad


def random_drive(seed, steps=10, batch=4, features=16, scale=1.6):
    gen = torch.Generator().manual_seed(seed)
    current = torch.rand(steps, batch, features, generator=gen) * scale
    return current, torch.randn(steps, batch, features, generator=gen)


def make_leaky(**kwargs):
    return lambda: snn.Leaky(beta=0.75, reset_mechanism="zero", spike_grad=tssl(), **kwargs)


def test_one_shared_rule_equals_one_rule_per_layer_in_leaky_net():
    current, grad_out = random_drive(2, features=8)
    w = torch.randn(8, 8, generator=torch.Generator().manual_seed(3)) * 0.8 + 0.3
    results = []
    for shared in (True, False):
        rule = tssl()
        lifs = [snn.Leaky(beta=0.75, reset_mechanism="zero", spike_grad=rule if shared else tssl()) for _ in range(3)]
        weight = w.clone().requires_grad_()
        mems = [lif.reset_mem() for lif in lifs]
        out = []
        for step in current:
            h = step
            for i, lif in enumerate(lifs):
                h, mems[i] = lif(h if i == 0 else h @ weight, mems[i])
            out.append(h)
        (torch.stack(out) * grad_out).sum().backward()
        results.append((torch.stack(out), weight.grad))
    assert torch.equal(results[0][0], results[1][0]) and results[0][0].sum() > 0
    torch.testing.assert_close(results[0][1], results[1][1], rtol=0, atol=0)


def run_prefix(layer, batch=4):
    """An earlier sequence (with its own backward) on the same neuron, that fires a lot."""
    x = torch.full((6, batch, 16), 2.0, requires_grad=True)
    spk, _ = leaky_loop(layer, x)
    spk.sum().backward()
    return spk


@pytest.mark.parametrize(
    "boundary",
    ["reset_mem", "init_leaky", "fresh_zeros", "utils_reset", "reset_hidden", "other_batch_size"],
)
def test_sequence_boundaries_start_a_new_sequence(boundary):
    current, grad_out = random_drive(4)
    spk_ref, grad_ref = input_grad(make_leaky(), current, grad_out)
    init_hidden = boundary in ("utils_reset", "reset_hidden")
    layer = snn.Leaky(beta=0.75, reset_mechanism="zero", spike_grad=tssl(), init_hidden=init_hidden)
    x = torch.full((6, 3 if boundary == "other_batch_size" else 4, 16), 2.0, requires_grad=True)
    if init_hidden:
        for step in x:
            layer(step)
    else:
        mem = layer.reset_mem()
        for step in x:
            _, mem = layer(step, mem)
    x_grad_check = torch.ones(())
    if init_hidden:
        utils.reset(nn.Sequential(layer)) if boundary == "utils_reset" else snn.Leaky.reset_hidden()
        start = None
    elif boundary == "reset_mem":
        start = layer.reset_mem()
    elif boundary == "init_leaky":
        start = layer.init_leaky()
    elif boundary == "fresh_zeros":
        start = torch.zeros(4, 16)
    else:
        start = mem  # shape [3, 16]: snnTorch replaces it by zeros of the new shape
    current = current.clone().requires_grad_()
    spikes = []
    for step in current:
        if init_hidden:
            spk = layer(step)
        else:
            spk, start = layer(step, start)
        spikes.append(spk)
    spk = torch.stack(spikes)
    (spk * grad_out).sum().backward()
    assert torch.equal(spk, spk_ref)
    torch.testing.assert_close(current.grad, grad_ref, rtol=0, atol=0)
    assert x_grad_check == 1


def test_returned_membrane_continues_the_sequence():
    """Carrying on with the returned membrane is one sequence, also when it crosses a call boundary."""
    current, grad_out = random_drive(6, steps=12)
    spk_ref, grad_ref = input_grad(make_leaky(), current, grad_out)
    layer = make_leaky()()
    current = current.clone().requires_grad_()
    spikes, mem = [], layer.reset_mem()
    for part in (current[:5], current[5:]):
        for step in part:
            spk, mem = layer(step, mem)
            spikes.append(spk)
    spk = torch.stack(spikes)
    (spk * grad_out).sum().backward()
    assert torch.equal(spk, spk_ref)
    torch.testing.assert_close(current.grad, grad_ref)


@pytest.mark.parametrize("init_hidden", [True, False])
def test_truncated_bptt_with_detached_hidden_state(init_hidden):
    """Each chunk gets the gradient of the full sequence restricted to that chunk's loss."""
    current, grad_out = random_drive(7, steps=12)
    chunks = [slice(0, 5), slice(5, 12)]
    expected = []
    for chunk in chunks:
        mask = torch.zeros_like(grad_out)
        mask[chunk] = 1
        _, grad = input_grad(make_leaky(), current, grad_out * mask)
        expected.append(grad[chunk])
    layer = make_leaky(init_hidden=init_hidden)()
    current = current.clone().requires_grad_()
    mem = layer.reset_mem()
    spikes = []
    for chunk in chunks:
        out = []
        for step in current[chunk]:
            if init_hidden:
                out.append(layer(step))
            else:
                spk, mem = layer(step, mem)
                out.append(spk)
        (torch.stack(out) * grad_out[chunk]).sum().backward()
        spikes.append(torch.stack(out))
        if init_hidden:
            snn.Leaky.detach_hidden()
        else:
            mem = mem.detach()
    spk_full, _ = input_grad(make_leaky(), current.detach(), grad_out)
    assert torch.equal(torch.cat(spikes), spk_full)
    for chunk, grad in zip(chunks, expected, strict=True):
        torch.testing.assert_close(current.grad[chunk], grad)


@pytest.mark.parametrize("reset", ["zero", "none"])
def test_membrane_loss_gradient_is_added_like_in_synaptic_sequence(reset):
    """Stock Leaky(reset_delay=False) returns the membrane after reset, as SynapticSequence(alpha=0) does
    (given the warm-up width of a neuron without a synapse: SynapticSequence has one, of any alpha)."""
    current, grad_out = random_drive(8, steps=15, scale=1.2)
    current = current.double()
    grad_out = grad_out.double()
    target = torch.randint(0, 16, (4,))
    loss_fn = SF.mse_membrane_loss(on_target=1.0, off_target=0.0)
    grads = []
    for kind in ("stock", "sequence"):
        x = current.clone().requires_grad_()
        if kind == "stock":
            layer = snn.Leaky(beta=0.75, reset_mechanism=reset, reset_delay=False, spike_grad=tssl())
            spk, mem = leaky_loop(layer, x)
        else:
            rule = tssl(warmup_width=binding.WARMUP_WIDTH_WITHOUT_SYNAPSE)
            layer = SynapticSequence(alpha=0.0, beta=0.75, reset_mechanism=reset, output=True, spike_grad=rule)
            spk, _, mem = layer(x)
        ((spk * grad_out).sum() + loss_fn(mem, target)).backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[0], grads[1])
    x = current.clone().requires_grad_()
    _, mem = leaky_loop(snn.Leaky(beta=0.75, reset_mechanism=reset, spike_grad=tssl()), x)
    loss_fn(mem, target).backward()
    assert x.grad.abs().sum() > 0


@pytest.mark.parametrize("reset_delay", [True, False])
@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_learnable_threshold_and_graded_spikes(reset, reset_delay):
    current, grad_out = random_drive(9)
    reference = snn.Leaky(beta=0.75, reset_mechanism=reset, reset_delay=reset_delay, spike_grad=tssl())
    _, grad_ref = input_grad(lambda: reference, current, grad_out * 0.5)
    graded = snn.Leaky(
        beta=0.75,
        reset_mechanism=reset,
        reset_delay=reset_delay,
        spike_grad=tssl(),
        learn_threshold=True,
        graded_spikes_factor=0.5,
    )
    spk, grad = input_grad(lambda: graded, current, grad_out)
    assert set(spk.unique().tolist()) == {0.0, 0.5}
    torch.testing.assert_close(grad, grad_ref)
    assert torch.isfinite(graded.threshold.grad) and graded.threshold.grad != 0


def test_recurrent_neurons_with_silent_feedback_equal_their_plain_versions():
    current, grad_out = random_drive(10)
    grads = []
    for make in (
        lambda: snn.Leaky(beta=0.75, reset_mechanism="zero", reset_delay=False, spike_grad=tssl()),
        lambda: snn.RLeaky(
            beta=0.75, V=0.0, all_to_all=False, reset_mechanism="zero", reset_delay=False, spike_grad=tssl()
        ),
    ):
        layer = make()
        x = current.clone().requires_grad_()
        spk, state = [], (layer.init_rleaky() if isinstance(layer, snn.RLeaky) else (layer.reset_mem(),))
        for step in x:
            out = layer(step, *state)
            spk.append(out[0])
            state = out if isinstance(layer, snn.RLeaky) else out[1:]
        (torch.stack(spk) * grad_out).sum().backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[0], grads[1])

    syn = snn.RSynaptic(alpha=0.5, beta=0.75, linear_features=16, reset_mechanism="zero", spike_grad=tssl())
    x = current.clone().requires_grad_()
    spk, syn_state, mem = syn.init_rsynaptic()
    out = []
    for step in x:
        spk, syn_state, mem = syn(step, spk, syn_state, mem)
        out.append(spk)
    (torch.stack(out) * grad_out).sum().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert syn.recurrent.weight.grad.abs().sum() > 0


def test_bare_call_is_a_per_step_surrogate_with_a_warning():
    """Outside a neuron's step the rule has no membrane trajectory: Heaviside forward, sigma' backward."""
    x = torch.tensor([-0.5, 0.0, 0.3], requires_grad=True)
    with pytest.warns(UserWarning, match="outside a neuron's step"):
        spk = tssl(warmup_width=0.5)(x)
    assert torch.equal(spk, torch.tensor([0.0, 0.0, 1.0]))
    spk.sum().backward()
    z = x.detach() / 0.5
    torch.testing.assert_close(x.grad, torch.sigmoid(z) * torch.sigmoid(-z) / 0.5)
    assert torch.equal(tssl()(x.detach()), spk.detach())  # no gradient wanted: no warning either


def leaky_mlp(spike_grad_factory) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(12, 10),
        snn.Leaky(beta=0.8, init_hidden=True, reset_mechanism="zero", spike_grad=spike_grad_factory()),
        nn.Linear(10, 4),
        snn.Leaky(beta=0.8, init_hidden=True, reset_mechanism="zero", spike_grad=spike_grad_factory()),
    )


def mlp_grads(net: nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    utils.reset(net)
    net.zero_grad()
    torch.stack([net(step) for step in x]).sum().backward()
    return [p.grad.clone() for p in net.parameters()]


def test_save_load_deepcopy_pickle_and_state_dict_interchange():
    x = torch.rand(8, 5, 12) * 2
    net = leaky_mlp(tssl)
    expected = mlp_grads(net, x)
    utils.reset(net)  # as with any snnTorch model, hidden states from a forward pass are not copyable
    buffer = io.BytesIO()
    torch.save(net, buffer)
    buffer.seek(0)
    clones = [torch.load(buffer, weights_only=False), copy.deepcopy(net), pickle.loads(pickle.dumps(net))]
    for clone in clones:
        assert isinstance(clone[1].spike_grad, TSSL)
        for a, b in zip(mlp_grads(clone, x), expected, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    atan_net = leaky_mlp(surrogate.atan)
    assert set(atan_net.state_dict()) == set(net.state_dict())
    atan_net.load_state_dict(net.state_dict(), strict=True)
    net.load_state_dict(atan_net.state_dict(), strict=True)
    assert list(net[1].spike_grad.parameters()) == [] and list(net[1].spike_grad.buffers()) == []
