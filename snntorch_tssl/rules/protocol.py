"""What a rule may offer a sequence neuron: running the neuron over a whole sequence itself.

A neuron that takes a whole time-first sequence in one call
(:class:`snntorch_tssl.SynapticSequence`) asks its ``spike_grad`` for a
sequence path: if the rule has a method ``sequence_forward`` (the
:class:`SequenceRule` protocol), the neuron calls it once for the whole
sequence; otherwise it steps the rule as a per-step ``spike_grad``. TSSL-BP
uses this for its O(T) backward; a third-party rule may offer one too.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

from torch import Tensor


class LIFParameters(NamedTuple):
    r"""The constants of a synapse + LIF neuron that a sequence path needs, as tensors of the compute dtype.

    .. math::
        I[t] = \alpha I[t-1] + (1 - \alpha) X[t], \quad
        u[t] = \beta \hat u[t-1] + I[t], \quad
        s[t] = \mathbb{1}[u[t] > V]

    and :math:`\hat u = u - \rho` after the reset ("zero", "subtract" or "none");
    ``alpha`` is None for a neuron without a synapse (:math:`I = X`).

    Example::

        import torch
        from snntorch_tssl.rules import LIFParameters

        neuron = LIFParameters(torch.tensor(2 / 3), torch.tensor(0.8), torch.tensor(1.0), "zero")
    """

    alpha: Tensor | None
    beta: Tensor
    threshold: Tensor
    reset_mechanism: str


@runtime_checkable
class SequenceRule(Protocol):
    r"""A ``spike_grad`` that can run a synapse + LIF neuron over a whole sequence itself.

    .. math:: (s, I, \hat u, \text{final}) = \text{sequence\_forward}(X, (\alpha, \beta, V, \text{reset}),
              \text{state})

    ``sequence_forward(input_, neuron, *, output, backend, state)`` takes the synapse's input
    ``[T, B, ...]``, the neuron's :class:`LIFParameters` and the state to start from
    (``(syn, mem, psc, timing)``, each None for zero; None: at rest), and returns the spikes, with
    ``output=True`` the synaptic current and the membrane after reset (else None), and with a
    ``state`` the state after the last step (else None), with the gradients the rule defines.
    ``backend`` is ``"auto"``, ``"torch"`` or ``"triton"``. A rule may return None to decline (the
    neuron then steps it as a per-step ``spike_grad``).

    Example::

        from snntorch_tssl import tssl
        from snntorch_tssl.rules import SequenceRule

        isinstance(tssl(), SequenceRule)  # True: TSSL-BP runs whole sequences itself
    """

    def sequence_forward(
        self,
        input_: Tensor,
        neuron: LIFParameters,
        *,
        output: bool,
        backend: str = "auto",
        state: tuple | None = None,
    ) -> tuple[Tensor, Tensor | None, Tensor | None, tuple | None] | None: ...
