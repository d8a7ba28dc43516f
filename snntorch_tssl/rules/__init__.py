"""Gradient methods (training rules) for spiking neurons."""

from snntorch_tssl.rules.tssl import TSSL, tssl

__all__ = ["TSSL", "tssl"]
