"""Spiking neurons of the package."""

from snntorch_tssl.neurons.synaptic_sequence import SynapticSequence

__all__ = ["SynapticSequence"]
