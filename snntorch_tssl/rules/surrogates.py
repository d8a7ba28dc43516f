"""snnTorch's own surrogate gradients as picklable modules (snnTorch 1.0's factories return closures)."""

from __future__ import annotations

import torch
from snntorch import surrogate
from torch import Tensor, nn

from snntorch_tssl.rules.protocol import LIFParameters
from snntorch_tssl.rules.surrogate_sequence import surrogate_sequence_forward

# factory name -> (autograd Function in snntorch.surrogate, its parameters with snnTorch's defaults)
SURROGATES: dict[str, tuple[str, dict[str, float]]] = {
    "atan": ("ATan", {"alpha": 2.0}),
    "fast_sigmoid": ("FastSigmoid", {"slope": 25.0}),
    "sigmoid": ("Sigmoid", {"slope": 25.0}),
    "triangular": ("Triangular", {"threshold": 1.0}),
    "straight_through_estimator": ("StraightThroughEstimator", {}),
    "spike_rate_escape": ("SpikeRateEscape", {"beta": 1.0, "slope": 25.0}),
    "heaviside": ("Heaviside", {}),
    "SFS": ("SparseFastSigmoid", {"slope": 25.0, "B": 1.0}),
    "SSO": ("StochasticSpikeOperator", {"mean": 0.0, "variance": 0.2}),
}


# The derivatives of the surrogates that have one in closed form, written as snnTorch's backward passes
# compute them (same operations, same order) without the incoming gradient; they serve the sequence path.
DERIVATIVES = {
    "atan": lambda x, alpha: alpha / 2 / (1 + (torch.pi / 2 * alpha * x).pow_(2)),
    "fast_sigmoid": lambda x, slope: 1.0 / (slope * torch.abs(x) + 1.0) ** 2,
    "sigmoid": lambda x, slope: slope * torch.exp(-slope * x) / ((torch.exp(-slope * x) + 1) ** 2),
}


class SnnTorchSurrogate(nn.Module):
    r"""One of snnTorch's surrogate gradients, by its factory name, as a picklable ``spike_grad``.

    It calls the same ``torch.autograd.Function`` as ``snntorch.surrogate.<name>(...)``
    (so the backward pass is snnTorch's), but it is a module without
    parameters or buffers, so models using it pickle and ``torch.save``, and
    its spikes :math:`S = \mathbb{1}[U - U_{thr} > 0]` come back in the
    input's dtype (snnTorch's are always float32).

    Names and parameters (snnTorch's defaults): ``atan(alpha=2.0)``,
    ``fast_sigmoid(slope=25)``, ``sigmoid(slope=25)``, ``triangular(threshold=1)``,
    ``straight_through_estimator()``, ``spike_rate_escape(beta=1, slope=25)``,
    ``heaviside()``, ``SFS(slope=25, B=1)``, ``SSO(mean=0, variance=0.2)``.
    snnTorch's ``LSO`` is left out: in snnTorch 1.0 its factory calls the wrong
    Function. Note that snnTorch's ``sigmoid`` overflows to NaN in float32 for
    :math:`U - U_{thr} < -3.5` at slope 25; ``stbp("sigmoid", a=1/25)`` is the
    same curve computed without overflow.

    ``atan``, ``fast_sigmoid`` and ``sigmoid`` have a closed-form derivative
    (:meth:`derivative`), for example :math:`\phi'(x) = \frac{\alpha / 2}{1 + (\pi \alpha x / 2)^2}`
    for ``atan``: with them, :class:`~snntorch_tssl.SynapticSequence` runs a whole
    sequence in one pass each way (:meth:`sequence_forward`) with the gradients of the
    stepped neuron; the others are stepped.

    :param name: snnTorch factory name, e.g. ``"atan"``
    :param kwargs: the factory's parameters, e.g. ``alpha=2.0``

    Example::

        import pickle
        import snntorch as snn
        from snntorch_tssl.rules import SnnTorchSurrogate

        lif = snn.Leaky(beta=0.8, spike_grad=SnnTorchSurrogate("atan", alpha=2.0))
        clone = pickle.loads(pickle.dumps(lif))
    """

    def __init__(self, name: str, **kwargs: float) -> None:
        super().__init__()
        if name not in SURROGATES:
            raise ValueError(f"name must be one of snnTorch's surrogates {sorted(SURROGATES)}, got {name!r}")
        defaults = SURROGATES[name][1]
        unknown = sorted(set(kwargs) - set(defaults))
        if unknown:
            raise TypeError(f"{name}() takes parameters {sorted(defaults) or 'none'}, got unexpected {unknown}")
        self.name = name
        self.params = {**defaults, **kwargs}

    def forward(self, x: Tensor) -> Tensor:
        function = getattr(surrogate, SURROGATES[self.name][0])
        return function.apply(x, *self.params.values()).to(x.dtype)

    def derivative(self, x: Tensor) -> Tensor:
        r"""The spike derivative :math:`\phi'(x)` this surrogate's backward pass multiplies the gradient by
        (``atan``, ``fast_sigmoid`` and ``sigmoid``; the others raise ``NotImplementedError``)."""
        if self.name not in DERIVATIVES:
            raise NotImplementedError(f"{self.name}() has no closed-form derivative here; only {sorted(DERIVATIVES)}")
        return DERIVATIVES[self.name](x, *self.params.values())

    def sequence_forward(
        self,
        input_: Tensor,
        neuron: LIFParameters,
        *,
        output: bool,
        backend: str = "auto",
        state: tuple | None = None,
    ) -> tuple[Tensor, Tensor | None, Tensor | None, tuple | None] | None:
        """The sequence path (:class:`~snntorch_tssl.rules.SequenceRule`: backpropagation through time in
        one reverse pass), or None for the surrogates without a closed-form derivative: the neuron then
        steps this rule."""
        if self.name not in DERIVATIVES:
            return None
        curve = (self.name, *self.params.values())
        return surrogate_sequence_forward(
            input_, neuron, self.derivative, curve, output=output, backend=backend, state=state
        )

    def extra_repr(self) -> str:
        return ", ".join([repr(self.name)] + [f"{key}={value}" for key, value in self.params.items()])
