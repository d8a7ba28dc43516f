"""tssl() in every snnTorch neuron that takes a spike_grad: exact where supported, refused where not.

Supported neurons are checked against the slow one-neuron loops of tests/reference.py; refused ones
fail while they are built, with the reason and what to use instead.
"""

import math
import warnings

import pytest
import snntorch as snn
import snntorch.functional as SF
import torch
from reference import per_neuron, stock_lapicque_neuron, stock_leaky_neuron, tssl_neuron_backward
from snntorch import surrogate
from torch import nn

from snntorch_tssl import SynapticSequence, tssl


def drive(seed, steps=12, batch=3, features=5, scale=1.2):
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(steps, batch, features, generator=gen, dtype=torch.float64) * scale
    return x, torch.randn(steps, batch, features, generator=gen, dtype=torch.float64)


OPTIONS = [{}, {"warmup": False}, {"reset_term": False}, {"tau_s": 2.0, "max_inv_du": 4.0, "warmup_width": 0.5}]


#: tssl()'s warm-up width in a neuron without a synapse (snn.Leaky, snn.Lapicque, snn.StateLeaky, ...)
WIDTH_WITHOUT_SYNAPSE = 0.5


def reference_options(options: dict, tau_s: float) -> dict:
    """The slow reference's arguments for a neuron without a synapse built with ``tssl(**options)``."""
    full = {
        "tau_s": tau_s,
        "max_inv_du": 8.0,
        "warmup": True,
        "warmup_width": WIDTH_WITHOUT_SYNAPSE,
        "reset_term": True,
    }
    full |= options
    width = full.pop("warmup_width")
    return full | {"width": width}


@pytest.mark.parametrize("reset", ["zero", "subtract", "none"])
@pytest.mark.parametrize("options", OPTIONS)
def test_lapicque_matches_slow_reference(reset, options):
    """u[t] = (dt/C) I[t] + (1 - dt/(RC)) u[t-1]: the leak is 1 - dt/(RC), the input gain dt/C."""
    x, grad_out = drive(21, scale=2.5)
    lif = snn.Lapicque(R=2.0, C=2.5, time_step=1.0, reset_mechanism=reset, spike_grad=tssl(**options))
    x.requires_grad_()
    mem = lif.reset_mem()
    spikes = []
    for step in x:
        spk, mem = lif(step, mem)
        spikes.append(spk)
    spk = torch.stack(spikes)
    (spk * grad_out).sum().backward()

    # the neuron's own (float32) constants: gain dt/C and leak 1 - dt/(RC)
    gain = (lif.R * (1 / (lif.R * lif.C)) * lif.time_step).item()
    leak = (1 - lif.time_step / (lif.R * lif.C)).item()
    kwargs = reference_options(options, tau_s=1.0)

    def one(column_i, column_g):
        us, dus, ss = stock_lapicque_neuron(column_i, gain, leak, 1.0, reset)
        grad_u = tssl_neuron_backward(column_g, us, dus, ss, tau_m=1 / (1 - leak), threshold=1.0, reset=reset, **kwargs)
        gate = [1.0 - (ss[t - 1] if t > 0 and reset == "zero" else 0.0) for t in range(len(us))]
        return [gain * g * k for g, k in zip(grad_u, gate, strict=True)]

    flat = (x.shape[0], -1)
    expected = per_neuron(one, x.detach().reshape(flat), grad_out.reshape(flat)).reshape(x.shape)
    assert 0.05 < spk.mean() < 0.95
    torch.testing.assert_close(x.grad, expected)


@pytest.mark.parametrize("kind", ["StateLeaky", "LinearLeaky"])
@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("per_channel", [False, True])
def test_state_leaky_matches_slow_reference(kind, options, per_channel):
    """No reset, the whole sequence at once: u[t] = l u[t-1] + I[t] with l = exp(-1/tau) per channel."""
    x, grad_out = drive(22, features=4, scale=0.8)
    beta = torch.tensor([0.6, 0.75, 0.8, 0.9]) if per_channel else torch.tensor(0.75)
    if kind == "StateLeaky":
        lif = snn.StateLeaky(beta=beta, channels=4, output=True, spike_grad=tssl(**options)).double()
        current = x.clone().requires_grad_()
        spk, mem = lif(current)
    else:
        lif = snn.LinearLeaky(beta=beta, in_features=4, out_features=4, spike_grad=tssl(**options)).double()
        with torch.no_grad():
            lif.linear.weight.copy_(torch.eye(4) + 0.1 * torch.randn(4, 4, generator=torch.Generator().manual_seed(0)))
            lif.linear.bias.fill_(0.05)
        x.requires_grad_()
        spk, mem = lif(x)
        current = None
    grad_input = torch.autograd.grad((spk * grad_out).sum(), x if current is None else current)[0]

    leak = torch.exp(-1.0 / lif.tau.detach()).expand(4)
    kwargs = reference_options(options, tau_s=1.0)
    if kind == "LinearLeaky":
        i = (x.detach() @ lif.linear.weight.detach().T + lif.linear.bias.detach()).detach()
    else:
        i = current.detach()
    expected = torch.empty_like(i)
    for c in range(4):
        lam = leak[c].item()

        def one(column_i, column_g, lam=lam):
            us, dus, ss = stock_leaky_neuron(column_i, lam, 1.0, "none", True)
            return tssl_neuron_backward(
                column_g, us, dus, ss, tau_m=1 / (1 - lam), threshold=1.0, reset="none", **kwargs
            )

        expected[:, :, c] = per_neuron(one, i[:, :, c], grad_out[:, :, c])
    if kind == "LinearLeaky":
        expected = expected @ lif.linear.weight.detach()
    assert 0.05 < spk.mean() < 0.95
    torch.testing.assert_close(grad_input, expected)
    torch.testing.assert_close(mem, torch.stack(_leaky_integral(i, leak)))


def _leaky_integral(current, leak):
    state, out = torch.zeros_like(current[0]), []
    for step in current:
        state = leak * state + step
        out.append(state)
    return out


def test_state_leaky_equals_leaky_without_reset():
    """snn.StateLeaky(beta) with tssl() = snn.Leaky(beta=exp(-(1-beta)), reset 'none') stepped with tssl()."""
    x, grad_out = drive(23, steps=15, scale=0.8)
    state = snn.StateLeaky(beta=0.8, channels=5, output=True, spike_grad=tssl()).double()
    a = x.clone().requires_grad_()
    spk_a, _ = state(a)
    (spk_a * grad_out).sum().backward()
    leak = math.exp(-1.0 / state.tau.item())
    leaky = snn.Leaky(beta=leak, reset_mechanism="none", spike_grad=tssl())
    b = x.clone().requires_grad_()
    mem, spikes = leaky.reset_mem(), []
    for step in b:
        spk, mem = leaky(step, mem)
        spikes.append(spk)
    (torch.stack(spikes) * grad_out).sum().backward()
    assert torch.equal(spk_a, torch.stack(spikes))
    torch.testing.assert_close(a.grad, b.grad)


def test_state_leaky_with_a_truncated_kernel_is_refused():
    lif = snn.StateLeaky(beta=0.8, channels=2, output=True, kernel_truncation_steps=3, spike_grad=tssl())
    with pytest.raises(NotImplementedError, match="kernel_truncation_steps=3"):
        lif(torch.rand(6, 2, 2, requires_grad=True))
    lif(torch.rand(3, 2, 2, requires_grad=True))  # a kernel as long as the sequence is not truncated


@pytest.mark.parametrize(
    "build,name",
    [
        (lambda rule: snn.Alpha(alpha=0.9, beta=0.8, spike_grad=rule), "Alpha"),
        (lambda rule: snn.SLSTM(4, 3, spike_grad=rule), "SLSTM"),
        (lambda rule: snn.SConv2dLSTM(1, 2, 3, spike_grad=rule), "SConv2dLSTM"),
        (lambda rule: snn.DeltaLeaky(beta=0.9, spike_grad=rule), "DeltaLeaky"),
        (lambda rule: snn.LeakyParallel(4, 3, beta=0.9, spike_grad=rule), "LeakyParallel"),
    ],
)
def test_refused_neurons_fail_when_built_with_the_reason(build, name):
    before = len(snn.SpikingNeuron.instances)
    with pytest.raises(NotImplementedError, match=rf"tssl\(\) does not support snn.{name}: .* Use "):
        build(tssl())
    assert len(snn.SpikingNeuron.instances) == before  # the neuron that was refused is not left registered
    neuron = build(surrogate.atan())  # the neuron itself is fine with a surrogate
    if neuron in snn.SpikingNeuron.instances:  # snnTorch's class-wide reset_hidden() would visit it later
        snn.SpikingNeuron.instances.remove(neuron)


@pytest.mark.parametrize("flag", ["inhibition", "state_quant"])
def test_neurons_with_inhibition_or_state_quant_are_refused_at_their_first_step(flag):
    """Settings, not neuron types: snnTorch sets them after it registers the spike_grad, so the first step
    refuses them."""
    value = True if flag == "inhibition" else (lambda mem: mem)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # snnTorch warns that inhibition is unstable
        lif = snn.Leaky(beta=0.9, spike_grad=tssl(), **{flag: value})
    with pytest.raises(NotImplementedError, match=rf"snn.Leaky\({flag}=\.\.\.\)"):
        lif(torch.rand(2, 3), lif.reset_mem())


def _input_gradient(kind: str, rule, x: torch.Tensor, grad_out: torch.Tensor) -> torch.Tensor:
    """The gradient of sum(spikes * grad_out) with respect to the input current, in one neuron kind."""
    x = x.clone().requires_grad_()
    if kind == "SynapticSequence":
        spk = SynapticSequence(alpha=0.7, beta=0.9, spike_grad=rule)(x)
    else:
        lif = snn.Leaky(beta=0.9, spike_grad=rule) if kind == "Leaky" else snn.Synaptic(0.7, 0.9, spike_grad=rule)
        state, spikes = (lif.reset_mem(),) if kind == "Leaky" else lif.reset_mem(), []
        for step in x:
            spk, *state = lif(step, *state)
            spikes.append(spk)
        spk = torch.stack(spikes)
    (spk * grad_out).sum().backward()
    return x.grad


@pytest.mark.parametrize(("kind", "width"), [("Leaky", 0.5), ("Synaptic", 0.2), ("SynapticSequence", 0.2)])
def test_the_default_warmup_width_is_the_paper_s_with_a_synapse_and_wider_without(kind, width):
    """tssl() takes w = 0.2 in a neuron with a synapse (the paper's network stays exact), 0.5 without; a width
    given to the rule wins."""
    x, grad_out = drive(26, steps=10, scale=1.0)
    default = _input_gradient(kind, tssl(), x, grad_out)
    assert torch.equal(default, _input_gradient(kind, tssl(warmup_width=width), x, grad_out))
    assert not torch.allclose(default, _input_gradient(kind, tssl(warmup_width=0.35), x, grad_out))


@pytest.mark.parametrize("neuron", ["Leaky", "Synaptic"])
def test_fire_and_mem_reset_called_directly_return_what_any_surrogate_returns(neuron):
    """neuron.fire(x) and neuron.mem_reset(x) are public snnTorch API: the Heaviside step, like atan's."""
    lif = snn.Leaky(beta=0.9, spike_grad=tssl()) if neuron == "Leaky" else snn.Synaptic(0.5, 0.9, spike_grad=tssl())
    ref = snn.Leaky(beta=0.9) if neuron == "Leaky" else snn.Synaptic(0.5, 0.9)
    mem = torch.linspace(-1, 3, 9)
    assert torch.equal(lif.fire(mem), ref.fire(mem))
    assert torch.equal(lif.mem_reset(mem), ref.mem_reset(mem))
    assert not lif.mem_reset(mem.requires_grad_()).requires_grad
    x = torch.linspace(-1, 3, 9, requires_grad=True)
    with pytest.warns(UserWarning, match="outside a neuron's step"):
        lif.fire(x).sum().backward()
    width = WIDTH_WITHOUT_SYNAPSE  # outside a step the rule does not know the neuron's synapse
    z = ((x.detach() - 1.0) / width).clamp(-8, 8)
    torch.testing.assert_close(x.grad, torch.sigmoid(z) * torch.sigmoid(-z) / width)  # the warm-up derivative


def two_layer(neuron, rule_factory, seed=0):
    torch.manual_seed(seed)
    if neuron == "Leaky":
        make = lambda: snn.Leaky(beta=0.9, spike_grad=rule_factory())  # noqa: E731
    else:
        make = lambda: snn.Synaptic(alpha=0.7, beta=0.9, spike_grad=rule_factory())  # noqa: E731
    return nn.ModuleList([nn.Linear(6, 8), make(), nn.Linear(8, 4), make()])


def run_two_layer(net, x):
    states = [net[1].reset_mem(), net[3].reset_mem()]
    states = [s if isinstance(s, tuple) else (s,) for s in states]
    spikes, mems = [], []
    for step in x:
        h, *states[0] = net[1](net[0](step), *states[0])
        out, *states[1] = net[3](net[2](h), *states[1])
        spikes.append(out)
        mems.append(states[1][-1])
    return torch.stack(spikes), torch.stack(mems)


@pytest.mark.parametrize("neuron", ["Leaky", "Synaptic"])
@pytest.mark.parametrize("options", OPTIONS)
def test_membrane_loss_reaches_the_output_layer_as_with_any_surrogate(neuron, options):
    """A membrane loss never passes through a spike at the output layer: its weight gradient is plain
    backpropagation through the leak, the same for tssl() (any options) as for atan."""
    x = torch.rand(10, 5, 6, generator=torch.Generator().manual_seed(3)) * 2
    labels = torch.tensor([0, 1, 2, 3, 1])
    grads = []
    for factory in (surrogate.atan, lambda: tssl(**options)):
        net = two_layer(neuron, factory)
        _, mem = run_two_layer(net, x)
        sum(nn.functional.cross_entropy(m, labels) for m in mem).backward()
        grads.append([p.grad for p in net[2].parameters()])
    for atan_grad, tssl_grad in zip(*grads, strict=True):
        assert atan_grad.abs().sum() > 0
        torch.testing.assert_close(tssl_grad, atan_grad, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("reset", ["zero", "subtract"])
def test_membrane_and_spike_losses_together_match_slow_reference(reset):
    """Both streams in one neuron: dL/dI = (warm-up value or G) + H."""
    x, grad_spk = drive(24, steps=14, scale=1.6)
    grad_mem = torch.randn(x.shape, generator=torch.Generator().manual_seed(25), dtype=torch.float64)
    lif = snn.Leaky(beta=0.8, reset_mechanism=reset, spike_grad=tssl(tau_s=2.5))
    x.requires_grad_()
    mem, spikes, mems = lif.reset_mem(), [], []
    for step in x:
        spk, mem = lif(step, mem)
        spikes.append(spk)
        mems.append(mem)
    ((torch.stack(spikes) * grad_spk).sum() + (torch.stack(mems) * grad_mem).sum()).backward()

    beta = lif.beta.item()  # the neuron's float32 value

    def one(column_i, column_g, column_m):
        us, dus, ss = stock_leaky_neuron(column_i, beta, 1.0, reset, True)
        return tssl_neuron_backward(
            column_g,
            us,
            dus,
            ss,
            tau_m=1 / (1 - beta),
            tau_s=2.5,
            threshold=1.0,
            reset=reset,
            grad_mem=column_m,
            width=WIDTH_WITHOUT_SYNAPSE,
        )

    flat = (x.shape[0], -1)
    expected = per_neuron(one, x.detach().reshape(flat), grad_spk.reshape(flat), grad_mem.reshape(flat))
    torch.testing.assert_close(x.grad, expected.reshape(x.shape))


def test_snntorch_losses_train_a_stock_network_with_tssl():
    """The switch in snnTorch's own vocabulary: SF.mse_count_loss on a stock Leaky network lowers the loss."""
    torch.manual_seed(0)
    net = two_layer("Leaky", tssl)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    loss_fn = SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)
    x = torch.rand(8, 16, 6) * 2
    labels = torch.randint(0, 4, (16,))
    losses = []
    for _ in range(60):
        spk, _ = run_two_layer(net, x)
        loss = loss_fn(spk, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses


def test_a_softmax_over_spikes_is_pointed_out_once():
    """ce_rate_loss's gradient sums to zero over the output neurons at every step: tssl() warns once, naming
    what to use instead; a spike-count loss and the hidden layers' gradients do not warn."""
    x = torch.rand(6, 8, 6, generator=torch.Generator().manual_seed(4)) * 2
    labels = torch.randint(0, 4, (8,), generator=torch.Generator().manual_seed(5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net = two_layer("Leaky", tssl)
        SF.mse_count_loss()(run_two_layer(net, x)[0], labels).backward()
    net = two_layer("Leaky", tssl)
    with pytest.warns(UserWarning, match="softmax cross-entropy over spikes.*surrogate.atan") as record:
        for _ in range(3):
            SF.ce_rate_loss()(run_two_layer(net, x)[0], labels).backward()
    assert sum("softmax" in str(w.message) for w in record) == 1  # the output layer's rule, once
    assert "snn.Leaky layer" in str(record[0].message) and "4 neurons" in str(record[0].message)


def test_a_softmax_over_a_long_sequence_is_pointed_out_from_a_sample_of_its_steps():
    """A sequence neuron's gradient of many steps and samples: the softmax check reads evenly spaced whole
    rows (one step's and one sample's neurons), so it still fires, and a count loss still does not."""
    from snntorch_tssl import SynapticSequence
    from snntorch_tssl.rules.tssl.binding import SAMPLE

    steps, batch, neurons = 200, 80, 10
    assert steps * batch > 2 * SAMPLE // neurons  # more rows than the check reads
    current = torch.rand(steps, batch, neurons, generator=torch.Generator().manual_seed(7)) * 0.6
    labels = torch.randint(0, neurons, (batch,), generator=torch.Generator().manual_seed(8))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        SF.mse_count_loss()(SynapticSequence(spike_grad=tssl())(current.requires_grad_()), labels).backward()
    with pytest.warns(UserWarning, match="softmax cross-entropy over spikes"):
        SF.ce_rate_loss()(SynapticSequence(spike_grad=tssl())(current), labels).backward()


def test_every_refusal_is_in_the_validation_page():
    from pathlib import Path

    from snntorch_tssl.rules.tssl.binding import REFUSED_NEURONS

    page = (Path(__file__).parents[1] / "docs" / "validation.md").read_text()
    for kind, reason in REFUSED_NEURONS.items():
        assert f"tssl() does not support snn.{kind.__name__}: {reason}" in page, kind.__name__


@pytest.mark.parametrize("kind", ["stock", "sequence"])
def test_a_layer_that_stays_silent_is_pointed_out_once(kind):
    """A layer that (nearly) does not fire in 256 steps of backward passes while its spikes get gradient:
    tssl() warns once that TSSL-BP reaches silent neurons only through warm-up, naming what to do."""
    from snntorch_tssl import SynapticSequence
    from snntorch_tssl.functional import van_rossum_loss

    x = torch.rand(8, 4, 6, generator=torch.Generator().manual_seed(6))
    weight = torch.full((3, 6), -1.0, requires_grad=True)  # inhibitory: the layer never fires
    neuron = snn.Leaky(beta=0.9, spike_grad=tssl()) if kind == "stock" else SynapticSequence()

    def backward():
        current = x @ weight.T
        if kind == "stock":
            mem, spikes = neuron.reset_mem(), []
            for step in current:
                spk, mem = neuron(step, mem)
                spikes.append(spk)
            spk = torch.stack(spikes)
        else:
            spk = neuron(current)
        van_rossum_loss()(spk, torch.tensor([0, 1, 2, 0])).backward()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(31):  # 248 steps
            backward()
    with pytest.warns(UserWarning, match="nearly silent .* in the last 256 steps.*surrogate.atan") as record:
        for _ in range(40):
            backward()
    silent = [str(w.message) for w in record if "nearly silent" in str(w.message)]
    assert len(silent) == 1 and "layer of 3 neurons" in silent[0]  # the batch is not in it


@pytest.mark.parametrize("kind", ["stock", "sequence"])
def test_a_gradient_that_collapses_is_pointed_out_once(kind):
    """The largest gradient on a layer's spikes in one backward pass falls below 1/100 of its largest in
    the passes before: tssl() warns once, naming the pass and the clipping that avoids it. Gradients
    that differ by far more between the steps of one pass, but not between passes, do not warn; nor
    does a fall after the first 32 passes."""
    from snntorch_tssl import SynapticSequence
    from snntorch_tssl.rules.tssl.binding import TrainingChecks

    x = torch.rand(6, 4, 5, generator=torch.Generator().manual_seed(7)) * 2
    weight = torch.rand(3, 5, generator=torch.Generator().manual_seed(8)).requires_grad_()
    per_step = torch.logspace(0, -6, 6)[:, None, None]  # the gradient on the spikes falls 1e6-fold in a pass

    def backward(neuron, scale):
        current = x @ weight.T
        if kind == "stock":
            mem, spikes = neuron.reset_mem(), []
            for step in current:
                spk, mem = neuron(step, mem)
                spikes.append(spk)
            spk = torch.stack(spikes)
        else:
            spk = neuron(current)
        (scale * per_step * spk).sum().backward()

    def layer():
        return snn.Leaky(beta=0.9, spike_grad=tssl()) if kind == "stock" else SynapticSequence()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        steady = layer()
        for _ in range(3):
            backward(steady, 1.0)
        late = layer()
        for _ in range(TrainingChecks.COLLAPSE_PASSES):
            backward(late, 1.0)
        backward(late, 1e-3)
    collapsing = layer()
    backward(collapsing, 1.0)
    backward(collapsing, 0.02)  # 1/50: not yet
    collapsed = "in backward pass 3, below 1/100 of its largest value in the passes before.*clip_grad_norm_"
    with pytest.warns(UserWarning, match=collapsed):
        backward(collapsing, 1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        backward(collapsing, 1e-4)  # once
