"""TSSL-BP and STBP training rules for snnTorch."""

from snntorch_tssl import functional, rules, spikegen
from snntorch_tssl.diagnostics import Diagnosis, diagnose
from snntorch_tssl.layers import FrameWise, SumPool2d
from snntorch_tssl.neurons import SynapticOutput, SynapticSequence, SynapticState
from snntorch_tssl.rules import STBP, TSSL, stbp, tssl

__version__ = "0.1.0"

__all__ = [
    "Diagnosis",
    "FrameWise",
    "STBP",
    "SumPool2d",
    "SynapticOutput",
    "SynapticSequence",
    "SynapticState",
    "TSSL",
    "functional",
    "rules",
    "spikegen",
    "stbp",
    "tssl",
    "diagnose",
    "__version__",
]
