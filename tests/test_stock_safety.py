"""tssl() is safe anywhere: shared by threads and replicas, probed, imported without side effects.

Each property is checked against the plain case (one rule per model, one thread, no probes), which
the slow-reference tests of test_stock.py pin.
"""

import subprocess
import sys
import threading
import warnings

import pytest
import snntorch as snn
import torch
from torch import nn

from snntorch_tssl import SynapticSequence, tssl
from snntorch_tssl.rules.tssl import binding


def make_net(rule=None, seed=0, kind="Leaky"):
    torch.manual_seed(seed)
    layers = []
    for n_in, n_out in ((6, 8), (8, 4)):
        spike_grad = tssl() if rule is None else rule
        if kind == "Leaky":
            neuron = snn.Leaky(beta=0.8, reset_mechanism="zero", spike_grad=spike_grad)
        else:
            neuron = snn.Synaptic(alpha=0.6, beta=0.8, spike_grad=spike_grad)
        layers += [nn.Linear(n_in, n_out), neuron]
    return nn.Sequential(*layers)


def run(net, x, probe=None):
    """Step the network over [T, B, F]; ``probe(neuron, inputs, states)`` is called before each neuron step."""
    neurons = [m for m in net if isinstance(m, snn.SpikingNeuron)]
    states = [n.reset_mem() for n in neurons]
    states = [s if isinstance(s, tuple) else (s,) for s in states]
    out = []
    for step in x:
        h = step
        for i, (linear, neuron) in enumerate(zip(net[::2], net[1::2], strict=True)):
            current = linear(h)
            if probe is not None:
                probe(neuron, current, states[i])
            h, *states[i] = neuron(current, *states[i])
        out.append(h)
    return torch.stack(out)


def grads(net, x, grad_out, probe=None):
    net.zero_grad()
    spk = run(net, x, probe)
    (spk * grad_out).sum().backward()
    return spk.detach(), [p.grad.clone() for p in net.parameters()]


def data(seed=1, batch=4):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(10, batch, 6, generator=gen) * 2.5, torch.randn(10, batch, 4, generator=gen)


def assert_same(a, b):
    assert torch.equal(a[0], b[0]) and a[0].sum() > 0
    for x, y in zip(a[1], b[1], strict=True):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_one_rule_shared_by_models_in_threads_equals_one_rule_per_model():
    """Two models trained at the same time in two threads, stepping in lockstep, share one tssl()."""
    rounds = 5
    expected = []
    for seed in (0, 1):
        net = make_net(seed=seed)
        x, g = data(seed)
        expected.append([grads(net, x, g) for _ in range(rounds)])
    shared = tssl()
    nets = [make_net(shared, seed=seed) for seed in (0, 1)]
    barrier = threading.Barrier(2)
    results, errors = [[], []], []

    def lockstep(neuron, current, states):
        barrier.wait(timeout=30)  # the other thread takes its step between any two of ours

    def train(i):
        try:
            x, g = data(i)
            for _ in range(rounds):
                results[i].append(grads(nets[i], x, g, probe=lockstep))
        except Exception as error:  # surfaced in the main thread
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=train, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for i in (0, 1):
        for got, want in zip(results[i], expected[i], strict=True):
            assert_same(got, want)


def replicate(module: nn.Module, copies: int) -> list[nn.Module]:
    """What nn.DataParallel does on its devices, on the CPU: shallow module replicas sharing the parameters.

    snnTorch 1.0's neurons keep a bound method (``state_function``) in their ``__dict__``, which a shallow
    replica would share with the original; it is re-bound to the replica here, so that the replicas are
    what a working DataParallel replica of the neuron is (with any spike_grad).
    """
    modules = list(module.modules())
    index = {id(m): i for i, m in enumerate(modules)}
    replicas = []
    for _ in range(copies):
        copy = [m._replicate_for_data_parallel() for m in modules]
        for original, replica in zip(modules, copy, strict=True):
            for name, child in original._modules.items():
                replica._modules[name] = None if child is None else copy[index[id(child)]]
            for name, parameter in original._parameters.items():
                replica._parameters[name] = parameter
            for name, value in vars(original).items():
                if getattr(value, "__self__", None) is original:
                    replica.__dict__[name] = getattr(replica, value.__name__)
        replicas.append(copy[0])
    return replicas


@pytest.mark.parametrize("kind", ["Leaky", "Synaptic"])
def test_dataparallel_style_replicas_in_threads_equal_the_whole_batch(kind):
    net = make_net(kind=kind)
    x, g = data(batch=6)
    spk_whole, grads_whole = grads(net, x, g)
    net.zero_grad()
    replicas = replicate(net, 2)
    outputs, errors = [None, None], []

    def forward_backward(i):
        try:
            part = slice(3 * i, 3 * i + 3)
            spk = run(replicas[i], x[:, part])
            (spk * g[:, part]).sum().backward()
            outputs[i] = spk.detach()
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=forward_backward, args=(i,)) for i in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert torch.equal(torch.cat(outputs, dim=1), spk_whole)
    for p, expected in zip(net.parameters(), grads_whole, strict=True):
        torch.testing.assert_close(p.grad, expected, rtol=1e-5, atol=1e-6)  # summed in another order


def probe_no_grad(neuron, current, states):
    with torch.no_grad():
        neuron(current, *states)


def probe_output_unused(neuron, current, states):
    neuron(current, *states)


recorded = []


def probe_output_recorded(neuron, current, states):
    recorded.append(neuron(current, *states)[0])  # used, but not by the loss


@pytest.mark.parametrize("probe", [probe_no_grad, probe_output_unused, probe_output_recorded])
@pytest.mark.parametrize("kind", ["Leaky", "Synaptic"])
def test_extra_calls_on_the_same_membrane_leave_the_gradients_unchanged(probe, kind):
    x, g = data()
    expected = grads(make_net(kind=kind), x, g)
    assert_same(grads(make_net(kind=kind), x, g, probe=probe), expected)
    assert all(r.grad_fn is not None for r in recorded)
    recorded.clear()


def test_importing_installs_nothing_and_the_first_rule_installs_one_hook():
    code = (
        "import torch.nn.modules.module as m\n"
        "import snntorch_tssl\n"
        "assert not m._global_module_registration_hooks, 'installed at import'\n"
        "snntorch_tssl.tssl(); snntorch_tssl.tssl(warmup=False)\n"
        "assert len(m._global_module_registration_hooks) == 1\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("explicit_equal", [True, False])
def test_synaptic_neurons_give_their_time_constant_to_the_rule(explicit_equal):
    """tssl() in snn.Synaptic(alpha = 1 - 1/8) uses tau_s = 8, as tssl(tau_s=8) does; a contradicting value warns."""
    x, g = data()

    def synaptic_grads(rule):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(6, 4), snn.Synaptic(alpha=1 - 1 / 8, beta=0.8, spike_grad=rule))
        net.zero_grad()
        syn, mem = net[1].reset_mem()
        out = []
        for step in x:
            spk, syn, mem = net[1](net[0](step), syn, mem)
            out.append(spk)
        (torch.stack(out) * g).sum().backward()
        return net[0].weight.grad

    own = synaptic_grads(tssl())
    if explicit_equal:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            torch.testing.assert_close(synaptic_grads(tssl(tau_s=8.0)), own)
    else:
        with pytest.warns(UserWarning, match=r"tssl\(tau_s=3\) in Synaptic, whose synaptic time constant"):
            other = synaptic_grads(tssl(tau_s=3.0))
        assert not torch.allclose(other, own)


def test_synaptic_sequence_gives_its_time_constant_to_the_rule():
    x = torch.rand(12, 4, 6, generator=torch.Generator().manual_seed(2)) * 1.2

    def sequence_grad(rule):
        neuron = SynapticSequence(tau_s=8.0, tau_m=5.0, spike_grad=rule)
        z = x.clone().requires_grad_()
        (neuron(z) * torch.linspace(-1, 1, 6)).sum().backward()
        return z.grad

    torch.testing.assert_close(sequence_grad(tssl()), sequence_grad(tssl(tau_s=8.0)))
    with pytest.warns(UserWarning, match=r"tssl\(tau_s=3\) in SynapticSequence"):
        assert not torch.allclose(sequence_grad(tssl(tau_s=3.0)), sequence_grad(tssl()))


def test_double_backward_raises_a_clear_error():
    x, _ = data()
    net = make_net()
    spk = run(net, x)
    (grad,) = torch.autograd.grad(spk.sum(), net[0].weight, create_graph=True)
    with pytest.raises(RuntimeError, match="no second derivative"):
        grad.sum().backward()
    sequence = SynapticSequence()
    z = x.clone().requires_grad_()
    (grad,) = torch.autograd.grad(sequence(z).sum(), z, create_graph=True)
    with pytest.raises(RuntimeError, match="no second derivative"):
        grad.sum().backward()


def test_snntorch_internals_are_checked(monkeypatch):
    monkeypatch.setattr(snn, "__version__", "2.3.0")
    with pytest.warns(UserWarning, match="snnTorch 1.0.x .* installed snnTorch is 2.3.0"):
        snn.Leaky(beta=0.9, spike_grad=tssl())

    class NoResetCall(snn.Leaky):
        mem_reset = None

    with pytest.raises(RuntimeError, match=r"snnTorch is 2.3.0, whose snn.NoResetCall lacks \['mem_reset'\]"):
        NoResetCall(beta=0.9, spike_grad=tssl())

    class FiresTwice(snn.Leaky):
        def forward(self, input_, mem):
            spk, mem = super().forward(input_, mem)
            self.fire(mem)
            return spk, mem

    monkeypatch.setattr(snn, "__version__", "1.0.0")
    lif = FiresTwice(beta=0.9, spike_grad=tssl())
    with pytest.raises(RuntimeError, match="call pattern of snnTorch 1.0.x"):
        lif(torch.rand(2, 3, requires_grad=True), lif.reset_mem())


def test_a_rule_keeps_no_state_of_a_sequence():
    """What a sequence needs travels with the membranes; the rule holds only a weak map of last membranes
    and its checks of the gradients."""
    rule = tssl()
    net = make_net(rule)
    x, g = data()
    grads(net, x, g)
    assert set(vars(rule)) - set(vars(nn.Module())) == {"options", "last_membranes", "checks"}
    assert binding._call_stack() == []
