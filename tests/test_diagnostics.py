"""snntorch_tssl.diagnose: what it reports equals what a plain computation of the same pass gives."""

import copy

import pytest
import snntorch as snn
import torch
from snntorch import surrogate
from torch import nn

from snntorch_tssl import SynapticSequence, diagnose, tssl


def two_layer_net(reset="subtract", beta=0.6):
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(6, 8),
        snn.Leaky(beta=beta, reset_mechanism=reset, init_hidden=True, spike_grad=tssl()),
        nn.Linear(8, 3),
        snn.Leaky(beta=beta, reset_mechanism=reset, init_hidden=True, spike_grad=tssl()),
    )


def run(net, x):
    for module in net:
        if isinstance(module, snn.SpikingNeuron):
            module.reset_hidden()
    return torch.stack([net(step) for step in x])


def data(steps=12, batch=5):
    gen = torch.Generator().manual_seed(1)
    return torch.rand(steps, batch, 6, generator=gen) * 2, torch.randn(steps, batch, 3, generator=gen)


def loss_of(target):
    return lambda spikes: ((spikes - target) ** 2).sum()


def gradients(net, x, target):
    net.zero_grad()
    loss_of(target)(run(net, x)).backward()
    return {name: p.grad.clone() for name, p in net.named_parameters()}


def with_rule(net, factory):
    copied = copy.deepcopy(net)
    for module in copied:
        if isinstance(module, snn.SpikingNeuron):
            del module.spike_grad
            module.spike_grad = factory()
    return copied


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_gradients_norms_and_cosines_are_those_of_each_rule_run_on_its_own(reset):
    net, (x, target) = two_layer_net(reset), data()
    report = diagnose(net, x, loss_of(target), forward=run, reference=surrogate.fast_sigmoid(slope=25))
    own = gradients(with_rule(net, tssl), x, target)
    other = gradients(with_rule(net, lambda: surrogate.fast_sigmoid(slope=25)), x, target)
    assert [p.name for p in report.parameters] == list(own)
    for parameter in report.parameters:
        a, b = own[parameter.name], other[parameter.name]
        assert parameter.norm == pytest.approx(a.norm().item(), rel=1e-6)
        assert parameter.reference_norm == pytest.approx(b.norm().item(), rel=1e-6)
        assert parameter.cosine == pytest.approx(
            torch.nn.functional.cosine_similarity(a.flatten(), b.flatten(), dim=0).item(), abs=1e-6
        )
        assert parameter.ratio == pytest.approx(parameter.norm / parameter.reference_norm)
    assert report.loss == pytest.approx(report.reference_loss)  # same forward pass
    assert report.reference == "fast_sigmoid"


def test_layer_quantities_match_a_slow_loop_over_the_steps():
    net, (x, target) = two_layer_net("subtract", beta=0.6), data()
    report = diagnose(net, x, loss_of(target), forward=run)
    # the first layer by hand: snnTorch's subtract reset u[t] = beta u[t-1] + I[t] - V s[t-1], and the
    # binding's membrane after reset u_hat[t-1] = u[t-1] - V s[t-1]
    current = net[0](x).detach()
    mem, spike, spikes, clamped, above, warm = torch.zeros(5, 8), torch.zeros(5, 8), [], 0, 0, 0
    coefficients = []
    for t in range(x.shape[0]):
        previous = mem - spike
        mem = 0.6 * mem + current[t] - spike
        spike = (mem > 1.0).float()
        for b in range(5):
            for j in range(8):
                if spike[b, j]:
                    du = (mem[b, j] - previous[b, j]).item()
                    crossed = previous[b, j].item() <= 1.0
                    m = min(1.0 / du, 8.0) if du > 0 and crossed else 0.0
                    clamped += m >= 8.0
                    c = min(0.6 + 0.4 * 1.0 * m, 1.0)
                    coefficients.append(c)
                    above += c > 1.0
                else:
                    warm += 1  # snn.Leaky's tau_s of 1 step: the warm-up test a[t] = s[t] < 1/4
        spikes.append(spike)
    spikes = torch.stack(spikes)
    first = report.layers[0]
    assert (first.name, first.rule) == ("1", "tssl()")
    assert first.firing_rate == pytest.approx(spikes.mean().item())
    assert first.silent == pytest.approx(1 - spikes.flatten(0, 1).amax(0).mean().item())
    assert first.clamped == pytest.approx(clamped / spikes.sum().item())
    assert first.coefficient_above_1 == above == 0  # the subtract reset's coefficient is at most 1
    assert first.max_coefficient == pytest.approx(max(coefficients))
    assert first.warmup == pytest.approx(warm / spikes.numel())
    assert "| 1 | tssl() |" in str(report) and "| 0.weight |" in str(report)


def test_the_model_is_left_as_it_was_and_may_hold_a_graph():
    net, (x, target) = two_layer_net(), data()
    loss_of(target)(run(net, x))  # init_hidden neurons now hold membranes inside a graph
    state = copy.deepcopy(net.state_dict())
    diagnose(net, x, loss_of(target), forward=run)
    assert all(p.grad is None for p in net.parameters())
    assert all(torch.equal(state[k], v) for k, v in net.state_dict().items())
    assert isinstance(net[1].spike_grad, type(tssl()))


def test_a_random_forward_gets_the_same_random_numbers_in_both_passes():
    net, (x, target) = two_layer_net(), data()

    def noisy(net, x):
        return run(net, x + 0.3 * torch.randn_like(x))

    report = diagnose(net, x, loss_of(target), forward=noisy)
    assert report.loss == report.reference_loss


def test_sequence_layers_report_their_spikes():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 8, bias=False), SynapticSequence(tau_s=3.0, tau_m=5.0, spike_grad=tssl()))
    x = torch.rand(5, 4, 6) * 3
    report = diagnose(net, x, lambda spikes: spikes.sum())
    spikes = net(x)
    (layer,) = report.layers
    assert layer.firing_rate == pytest.approx(spikes.mean().item())
    assert layer.silent == pytest.approx(1 - spikes.flatten(0, 1).amax(0).mean().item())
    assert layer.clamped is None and layer.max_coefficient is None  # its fused backward is not stepped
    assert report.parameters[0].norm > 0


def test_bad_arguments_are_named():
    net, (x, target) = two_layer_net(), data()
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        diagnose(lambda v: v, x, loss_of(target))
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        diagnose(net, x, 3.0, forward=run)
    with pytest.raises(TypeError, match="forward must be callable"):
        diagnose(net, x, loss_of(target), forward="run")
    with pytest.raises(TypeError, match="reference must be a surrogate spike_grad other than tssl"):
        diagnose(net, x, loss_of(target), forward=run, reference=tssl())
    with pytest.raises(TypeError, match="loss_fn must return a scalar tensor, got Tensor of shape"):
        diagnose(net, x, lambda spikes: spikes, forward=run)
    plain = nn.Sequential(nn.Linear(6, 3), snn.Leaky(beta=0.5, init_hidden=True))
    with pytest.raises(ValueError, match="no neuron whose spike_grad is tssl"):
        diagnose(plain, x, loss_of(target), forward=run)
