"""The paper's experiments: presets, network builder, training loop and command line."""

from snntorch_tssl.experiments.models import SpikingNet, StockSynaptic, build_model, parse_architecture
from snntorch_tssl.experiments.presets import PRESETS, Preset, get_preset
from snntorch_tssl.experiments.train import CheckpointError, ConfigError, TrainConfig, train

__all__ = [
    "PRESETS",
    "CheckpointError",
    "ConfigError",
    "Preset",
    "SpikingNet",
    "StockSynaptic",
    "TrainConfig",
    "build_model",
    "get_preset",
    "parse_architecture",
    "train",
]
