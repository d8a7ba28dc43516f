"""STBP (Wu et al. 2018): the per-step surrogate spike derivatives that TSSL-BP is compared against."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from snntorch_tssl._validation import check_choice, check_positive
from snntorch_tssl.rules.protocol import LIFParameters
from snntorch_tssl.rules.surrogate_sequence import surrogate_sequence_forward

KINDS = ("rectangular", "polynomial", "sigmoid", "gaussian")


# --------------------------------------------------------------------------
# The four curves h(x), x = u - V, each integrating to 1 over the real line.
# --------------------------------------------------------------------------


def rectangular(x: Tensor, a: float) -> Tensor:
    r""":math:`h_1(x) = \frac{1}{a}\, \mathbb{1}[|x| < a/2]`."""
    return (x.abs() < a / 2).to(x.dtype) / a


def polynomial(x: Tensor, a: float) -> Tensor:
    r""":math:`h_2(x) = \big(\frac{\sqrt a}{2} - \frac{a}{4}|x|\big)\, \mathbb{1}[|x| < 2/\sqrt a]`."""
    root = math.sqrt(a)
    return torch.where(x.abs() < 2 / root, root / 2 - a / 4 * x.abs(), torch.zeros_like(x))


def sigmoid(x: Tensor, a: float) -> Tensor:
    r""":math:`h_3(x) = \frac{1}{a} \frac{e^{-x/a}}{(1 + e^{-x/a})^2}`, computed without overflow."""
    return torch.sigmoid(x / a) * torch.sigmoid(-x / a) / a


def gaussian(x: Tensor, a: float) -> Tensor:
    r""":math:`h_4(x) = \frac{1}{\sqrt{2 \pi a}} e^{-x^2 / (2a)}`."""
    return torch.exp(-x.square() / (2 * a)) / math.sqrt(2 * math.pi * a)


# --------------------------------------------------------------------------
# One autograd Function for every curve: Heaviside forward, the curve backward.
# --------------------------------------------------------------------------

CURVES = {"rectangular": rectangular, "polynomial": polynomial, "sigmoid": sigmoid, "gaussian": gaussian}


class STBPSpike(torch.autograd.Function):
    """:math:`s = \\mathbb{1}[x > 0]` in the input's dtype forward; ``CURVES[kind](x, a)`` backward."""

    @staticmethod
    def forward(ctx, x: Tensor, kind: str, a: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.kind, ctx.a = kind, a
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (x,) = ctx.saved_tensors
        return grad * CURVES[ctx.kind](x, ctx.a), None, None


class STBP(nn.Module):
    r"""An STBP spike function: Heaviside forward, one of Wu et al.'s curves backward.

    .. math::
        s = \mathbb{1}[x > 0], \qquad \frac{\partial s}{\partial x} := h_{kind}(x)

    with :math:`x = u - V` and :math:`h` the curve of :func:`stbp` (each
    integrates to 1). The module has no parameters and no buffers, pickles,
    and is a ``spike_grad`` for any snnTorch neuron and for
    :class:`SynapticSequence`. :func:`stbp` is the usual way to make one.

    Example::

        import torch
        from snntorch_tssl import STBP

        rule = STBP("gaussian", a=0.5)
        x = torch.linspace(-1, 1, 5, requires_grad=True)
        rule(x).sum().backward()  # x.grad == rule.derivative(x)
    """

    def __init__(self, kind: str = "rectangular", a: float = 1.0) -> None:
        super().__init__()
        self.kind = check_choice("kind", kind, KINDS)
        self.a = check_positive("a", a)

    def forward(self, x: Tensor) -> Tensor:
        return STBPSpike.apply(x, self.kind, self.a)

    def derivative(self, x: Tensor) -> Tensor:
        """The curve :math:`h(x)` this rule uses as the spike derivative."""
        return CURVES[self.kind](x, self.a)

    def sequence_forward(
        self,
        input_: Tensor,
        neuron: LIFParameters,
        *,
        output: bool,
        backend: str = "auto",
        state: tuple | None = None,
    ) -> tuple[Tensor, Tensor | None, Tensor | None, tuple | None]:
        """The rule's sequence path (:class:`~snntorch_tssl.rules.SequenceRule`): ``neuron`` over the whole
        ``input_``, backpropagation through time with :math:`h` in one reverse pass."""
        curve = (f"stbp-{self.kind}", self.a)
        return surrogate_sequence_forward(
            input_, neuron, self.derivative, curve, output=output, backend=backend, state=state
        )

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, a={self.a}"


def stbp(kind: str = "rectangular", a: float = 1.0) -> STBP:
    r"""Return an STBP spike function (Wu et al. 2018) to pass as a neuron's ``spike_grad``.

    **Forward pass:** the Heaviside step of :math:`x = U - U_{thr}` (what
    snnTorch passes), strictly :math:`S = \mathbb{1}[x > 0]`, in the input's dtype.

    **Backward pass:** :math:`\partial S / \partial U` is replaced by one of
    four curves, each integrating to 1:

    .. math::
        h_1(x) &= \frac{1}{a}\, \mathbb{1}\big[|x| < \tfrac{a}{2}\big] & \text{rectangular} \\
        h_2(x) &= \Big(\frac{\sqrt a}{2} - \frac{a}{4}|x|\Big)\, \mathbb{1}\big[|x| < \tfrac{2}{\sqrt a}\big]
            & \text{polynomial} \\
        h_3(x) &= \frac{1}{a} \frac{e^{-x/a}}{(1 + e^{-x/a})^2} & \text{sigmoid} \\
        h_4(x) &= \frac{1}{\sqrt{2\pi a}}\, e^{-x^2/(2a)} & \text{gaussian}

    :param kind: "rectangular", "polynomial", "sigmoid" or "gaussian"
    :param a: width parameter :math:`a > 0` of the curve

    Example::

        import snntorch as snn
        from snntorch_tssl import stbp

        lif = snn.Leaky(beta=0.8, spike_grad=stbp("rectangular", a=1.0))
    """
    return STBP(kind, a)
