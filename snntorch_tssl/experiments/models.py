"""Build the paper's networks from their notation, in sequence mode or from stock snnTorch neurons."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import snntorch as snn
import torch
from torch import Tensor, nn

from snntorch_tssl._validation import check_choice, check_positive, check_sequence
from snntorch_tssl.layers import FrameWise, SumPool2d
from snntorch_tssl.neurons import SynapticSequence

ENGINES = ("sequence", "stock")

_CONV = re.compile(r"^(\d+)C(\d+)(?:p(\d+))?$")
_POOL = re.compile(r"^P(\d+)$")
_DENSE = re.compile(r"^(\d+)$")


class StockSynaptic(nn.Module):
    r"""Stock ``snn.Synaptic`` stepped over a ``[T, B, ...]`` sequence: the paper's neuron.

    .. math::
        I[t] = \alpha I[t-1] + X[t] / \tau_s, \qquad U[t] = \beta \hat U[t-1] + I[t]

    with :math:`\alpha = 1 - 1/\tau_s`, :math:`\beta = 1 - 1/\tau_m`, reset
    "zero" and ``reset_delay=False``. The input is scaled by :math:`1/\tau_s`
    so that the synapse kernel is normalised: the same weights give the same
    spikes as :class:`snntorch_tssl.SynapticSequence`.

    :param tau_s: synaptic time constant (steps, >= 1)
    :param tau_m: membrane time constant (steps, >= 1)
    :param spike_grad: the neuron's ``spike_grad`` (a rule of :mod:`snntorch_tssl.rules`)
    :param threshold: firing threshold

    Example::

        import torch
        from snntorch import surrogate
        from snntorch_tssl.experiments.models import StockSynaptic

        lif = StockSynaptic(3.0, 5.0, surrogate.atan())
        spk = lif(torch.rand(5, 8, 100) * 3)  # [T, B, F]
    """

    def __init__(
        self, tau_s: float, tau_m: float, spike_grad: Callable[[Tensor], Tensor], threshold: float = 1.0
    ) -> None:
        super().__init__()
        self.tau_s = check_positive("tau_s", tau_s)
        tau_m = check_positive("tau_m", tau_m)
        self.neuron = snn.Synaptic(
            alpha=1.0 - 1.0 / self.tau_s,
            beta=1.0 - 1.0 / tau_m,
            threshold=threshold,
            spike_grad=spike_grad,
            reset_mechanism="zero",
            reset_delay=False,
        )

    def forward(self, x: Tensor) -> Tensor:
        check_sequence("x", x, min_dim=2)
        syn = torch.zeros_like(x[0])
        mem = torch.zeros_like(x[0])
        spikes = []
        for t in range(x.shape[0]):
            spk, syn, mem = self.neuron(x[t] / self.tau_s, syn, mem)
            spikes.append(spk)
        return torch.stack(spikes)


class SpikingNet(nn.Sequential):
    """The paper's network: a ``nn.Sequential`` over ``[T, B, ...]`` that also lists its spiking layers.

    :param layers: the modules in order
    :param neurons: the spiking-neuron modules among ``layers`` (for spike statistics)

    Example::

        import torch
        from snntorch_tssl import tssl
        from snntorch_tssl.experiments import build_model

        net = build_model("784-400-10", (784,), tau_s=3.0, tau_m=5.0, spike_grad=tssl)  # a SpikingNet
        spk = net(torch.rand(5, 8, 784))  # [T, B, 10]
        [name for name, _ in net.spiking_layers()]  # the two neurons' names
    """

    def __init__(self, layers: list[nn.Module], neurons: list[nn.Module]) -> None:
        super().__init__(*layers)
        self.neuron_names = [name for name, module in self.named_children() if any(module is n for n in neurons)]

    def spiking_layers(self) -> list[tuple[str, nn.Module]]:
        """Return ``(name, module)`` of every spiking layer, input to output."""
        modules = dict(self.named_children())
        return [(name, modules[name]) for name in self.neuron_names]


def parse_architecture(architecture: str) -> list[tuple[str, tuple[int, ...]]]:
    """Parse the paper's layer notation into ``(kind, args)`` tuples.

    :param architecture: e.g. ``"15C5-P2-40C5-P2-300-10"`` or ``"784-400-400-10"`` (a first bare
        number equal to the input size is the input layer and is skipped)
    :returns: a list of ``("conv", (channels, kernel, padding))``, ``("pool", (size,))`` and
        ``("dense", (features,))``
    :raises ValueError: on an unknown token

    Example::

        from snntorch_tssl.experiments.models import parse_architecture

        parse_architecture("12C5p1-P2-10")  # [('conv', (12, 5, 1)), ('pool', (2,)), ('dense', (10,))]
    """
    if not isinstance(architecture, str) or not architecture:
        raise ValueError(f"architecture must be a non-empty string like '15C5-P2-300-10', got {architecture!r}")
    layers: list[tuple[str, tuple[int, ...]]] = []
    for token in architecture.split("-"):
        if match := _CONV.match(token):
            channels, kernel, padding = match.groups()
            layers.append(("conv", (int(channels), int(kernel), int(padding or 0))))
        elif match := _POOL.match(token):
            layers.append(("pool", (int(match.group(1)),)))
        elif match := _DENSE.match(token):
            layers.append(("dense", (int(match.group(1)),)))
        else:
            raise ValueError(
                f"architecture token must look like '15C5', '32C5p2', 'P2' or '300', got {token!r} in {architecture!r}"
            )
    return layers


def build_model(
    architecture: str,
    input_shape: tuple[int, ...],
    *,
    tau_s: float,
    tau_m: float,
    spike_grad: Callable[[], Callable[[Tensor], Tensor]],
    engine: str = "sequence",
    conv_init_scale: float = 1.0,
    dropout: float = 0.0,
) -> SpikingNet:
    r"""Build one of the paper's networks for time-first input ``[T, B, *input_shape]``.

    Every convolution (``FrameWise(nn.Conv2d)``, no bias, PyTorch's default
    initialisation times ``conv_init_scale``) and every fully connected layer
    (``nn.Linear``, no bias, Kaiming-normal initialisation) is followed by a
    spiking neuron: :class:`snntorch_tssl.SynapticSequence` for
    ``engine="sequence"``, :class:`StockSynaptic` for ``engine="stock"``.
    Pooling is ``FrameWise(SumPool2d(k))`` (1.1 x sum pooling, no neuron).
    With ``dropout > 0`` an ``nn.Dropout`` follows every hidden spiking layer.

    .. math:: a^{(l)} = \text{neuron}\big(W^{(l)} a^{(l-1)}\big)

    :param architecture: the paper's notation (see :func:`parse_architecture`)
    :param input_shape: shape of one frame, ``(C, H, W)`` or ``(F,)``
    :param tau_s: synaptic time constant of every neuron
    :param tau_m: membrane time constant of every neuron
    :param spike_grad: factory returning a fresh ``spike_grad`` for each neuron
    :param engine: "sequence" or "stock"
    :param conv_init_scale: factor on the default convolution initialisation (5 for CIFAR-10)
    :param dropout: dropout probability after hidden spiking layers
    :returns: a :class:`SpikingNet` mapping ``[T, B, *input_shape]`` to output spikes ``[T, B, classes]``

    Example::

        import torch
        from snntorch_tssl import tssl
        from snntorch_tssl.experiments.models import build_model

        net = build_model("784-400-10", (1, 28, 28), tau_s=3.0, tau_m=5.0, spike_grad=lambda: tssl(tau_s=3.0))
        spk = net(torch.rand(5, 2, 1, 28, 28))  # [5, 2, 10]
    """
    check_choice("engine", engine, ENGINES)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
    spec = parse_architecture(architecture)
    if spec and spec[0][0] == "dense" and spec[0][1][0] == math.prod(input_shape) and len(spec) > 1:
        spec = spec[1:]

    def neuron() -> nn.Module:
        if engine == "sequence":
            return SynapticSequence(tau_s=tau_s, tau_m=tau_m, spike_grad=spike_grad())
        return StockSynaptic(tau_s, tau_m, spike_grad())

    layers: list[nn.Module] = []
    neurons: list[nn.Module] = []
    shape = tuple(input_shape)
    for index, (kind, args) in enumerate(spec):
        last = index == len(spec) - 1
        if kind == "pool":
            if len(shape) != 3:
                raise ValueError(f"pooling needs [C, H, W] feature maps, got shape {shape} in {architecture!r}")
            layers.append(FrameWise(SumPool2d(args[0])))
            shape = (shape[0], shape[1] // args[0], shape[2] // args[0])
            continue
        if kind == "conv":
            if len(shape) != 3:
                raise ValueError(f"a convolution needs [C, H, W] input, got shape {shape} in {architecture!r}")
            channels, kernel, padding = args
            conv = nn.Conv2d(shape[0], channels, kernel, padding=padding, bias=False)
            with torch.no_grad():
                conv.weight.mul_(conv_init_scale)
            layers.append(FrameWise(conv))
            shape = (channels, shape[1] + 2 * padding - kernel + 1, shape[2] + 2 * padding - kernel + 1)
            if min(shape[1:]) < 1:
                raise ValueError(f"input {tuple(input_shape)} is too small for {architecture!r}")
        else:
            if len(shape) != 1:
                layers.append(nn.Flatten(start_dim=2))
                shape = (math.prod(shape),)
            linear = nn.Linear(shape[0], args[0], bias=False)
            nn.init.kaiming_normal_(linear.weight)
            layers.append(linear)
            shape = (args[0],)
        cell = neuron()
        layers.append(cell)
        neurons.append(cell)
        if dropout > 0 and not last:
            layers.append(nn.Dropout(dropout))
    if len(shape) != 1:
        raise ValueError(f"architecture must end with a fully connected layer, got {architecture!r}")
    return SpikingNet(layers, neurons)
