"""Pure tensor functions: the single source of the package's math.

Everything here is stateless and works on time-first tensors ``[T, ...]``
(any number of trailing dimensions), on any device, in float32 or float64;
no ``nn.Module`` and no state. One module per concern:

- :mod:`~snntorch_tssl._math.filters`: the normalised PSC filter, its transpose, exponential scans;
- :mod:`~snntorch_tssl._math.lif`: the LIF neuron's forward passes (three resets, fused synapse);
- :mod:`~snntorch_tssl._math.tssl`: the TSSL-BP backward, over a sequence and for one step;
- :mod:`~snntorch_tssl._math.tiling`: tiles of neurons x time that keep the passes cache-sized.

Equation numbers refer to the package's specification of TSSL-BP (Zhang &
Li, NeurIPS 2020). Notation: ``u`` is the membrane before reset, ``s`` the
spike, ``V`` the threshold, ``beta = 1 - 1/tau_m`` the membrane leak.
"""

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
    lif_sequence_forward,
    lif_sequence_scan,
    mem_increment,
    reset_derivative,
    reset_removed,
    step_function,
)
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
    "CHUNK_ELEMENTS",
    "CHUNK_ELEMENTS_ACCELERATOR",
    "LIFScan",
    "RESET_MECHANISMS",
    "TSSLOptions",
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
    "split_tiles",
    "step_function",
    "timing_factor",
    "tssl_recursion",
    "tssl_sequence_backward",
    "tssl_step_backward",
    "warmup_mask",
    "warmup_surrogate",
]
