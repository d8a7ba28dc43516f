"""Spiking neurons of the package."""

from snntorch_tssl.neurons.synaptic_sequence import SynapticOutput, SynapticSequence, SynapticState

__all__ = ["SynapticOutput", "SynapticSequence", "SynapticState"]
