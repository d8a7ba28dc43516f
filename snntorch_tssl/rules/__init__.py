"""Gradient methods (training rules) for spiking neurons."""

from snntorch_tssl.rules.protocol import LIFParameters, SequenceRule
from snntorch_tssl.rules.registry import available, get, register
from snntorch_tssl.rules.stbp import STBP, stbp
from snntorch_tssl.rules.surrogates import SnnTorchSurrogate
from snntorch_tssl.rules.tssl import TSSL, tssl

__all__ = [
    "LIFParameters",
    "STBP",
    "SequenceRule",
    "SnnTorchSurrogate",
    "TSSL",
    "available",
    "get",
    "register",
    "stbp",
    "tssl",
]
