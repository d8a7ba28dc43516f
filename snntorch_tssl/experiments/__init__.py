"""The paper's experiments: presets, network builder, training loop and command line."""

from snntorch_tssl.experiments.checkpoints import CheckpointError
from snntorch_tssl.experiments.config import ConfigError, TrainConfig
from snntorch_tssl.experiments.models import SpikingNet, StockSynaptic, build_model, parse_architecture
from snntorch_tssl.experiments.presets import PRESETS, Preset, get_preset
from snntorch_tssl.experiments.results import OutputError
from snntorch_tssl.experiments.train import train

__all__ = [
    "PRESETS",
    "CheckpointError",
    "ConfigError",
    "OutputError",
    "Preset",
    "SpikingNet",
    "StockSynaptic",
    "TrainConfig",
    "build_model",
    "get_preset",
    "parse_architecture",
    "train",
]
