"""Pure tensor functions: the single source of the package's math.

Everything here is stateless and works on time-first tensors ``[T, ...]``
(any number of trailing dimensions), on any device, in float32 or float64;
no ``nn.Module`` and no state. One module per concern:

- :mod:`~snntorch_tssl._math.filters`: the normalised PSC filter, its transpose, exponential scans;
- :mod:`~snntorch_tssl._math.lif`: the LIF neuron's forward passes (three resets, fused synapse);
- :mod:`~snntorch_tssl._math.tssl`: the TSSL-BP backward, over a sequence and for one step;
- :mod:`~snntorch_tssl._math.surrogate`: backpropagation through time with a surrogate spike derivative;
- :mod:`~snntorch_tssl._math.tiling`: tiles of neurons x time that keep the passes cache-sized;
- :mod:`~snntorch_tssl._math.backend`: which implementation runs a pass, PyTorch or Triton.

Beside a PyTorch pass, a module ``<name>_triton`` holds its Triton kernel (``lif_triton``,
``tssl_triton``, ``surrogate_triton``); they import triton, so they load only when a pass uses them.

Equation numbers refer to the package's specification of TSSL-BP (Zhang &
Li, NeurIPS 2020). Notation: ``u`` is the membrane before reset, ``s`` the
spike, ``V`` the threshold, ``beta = 1 - 1/tau_m`` the membrane leak.
"""

from snntorch_tssl._math.backend import BACKENDS, default_backend, resolve_backend, triton_available
from snntorch_tssl._math.filters import (
    exponential_filter,
    exponential_scan,
    psc_filter,
    psc_filter_forward,
    psc_filter_transpose,
)
from snntorch_tssl._math.lif import (
    RESET_MECHANISMS,
    LIFScan,
    LIFState,
    StateGradients,
    lif_sequence_forward,
    lif_sequence_scan,
    mem_increment,
    reset_derivative,
    reset_removed,
    step_function,
)
from snntorch_tssl._math.surrogate import surrogate_sequence_backward
from snntorch_tssl._math.tiling import CHUNK_ELEMENTS, CHUNK_ELEMENTS_ACCELERATOR, split_tiles
from snntorch_tssl._math.tssl import (
    TSSLOptions,
    recursion_coefficient,
    timing_factor,
    tssl_recursion,
    tssl_sequence_backward,
    tssl_step_backward,
    warmup_mask,
    warmup_surrogate,
)

__all__ = [
    "BACKENDS",
    "CHUNK_ELEMENTS",
    "CHUNK_ELEMENTS_ACCELERATOR",
    "LIFScan",
    "LIFState",
    "RESET_MECHANISMS",
    "StateGradients",
    "TSSLOptions",
    "default_backend",
    "exponential_filter",
    "exponential_scan",
    "lif_sequence_forward",
    "lif_sequence_scan",
    "mem_increment",
    "psc_filter",
    "psc_filter_forward",
    "psc_filter_transpose",
    "recursion_coefficient",
    "reset_derivative",
    "reset_removed",
    "resolve_backend",
    "split_tiles",
    "step_function",
    "surrogate_sequence_backward",
    "timing_factor",
    "triton_available",
    "tssl_recursion",
    "tssl_sequence_backward",
    "tssl_step_backward",
    "warmup_mask",
    "warmup_surrogate",
]
