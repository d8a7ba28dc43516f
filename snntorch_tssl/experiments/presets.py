"""The paper's experiments as presets: architecture, neuron constants and training recipe.

Architectures use the paper's notation, parsed by
:func:`snntorch_tssl.experiments.models.build_model`: ``15C5`` is a 5x5
convolution with 15 output channels, ``32C5p2`` the same with padding 2,
``P2`` the paper's 2x2 sum pooling times 1.1, and a bare number a fully
connected layer. Every convolution and fully connected layer is followed by
a spiking neuron; pooling is not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from snntorch_tssl._validation import (
    check_bool,
    check_choice,
    check_in_range,
    check_int,
    check_positive,
    check_real,
    check_time_constant,
)

DATASETS = ("mnist-bundled", "mnist", "fmnist", "cifar10", "nmnist")
LOSSES = ("van_rossum", "count")
#: Target patterns a preset may name (those of :func:`snntorch_tssl.spikegen.targets_spike_sequence`
#: that need no further setting).
TARGETS = ("tssl", "tssl-paper")


@dataclass(frozen=True)
class Preset:
    """One experiment of the paper (TSSL-BP, Zhang & Li 2020, table of section 5 of the spec).

    :param name: preset name used on the command line
    :param dataset: "mnist", "mnist-bundled", "fmnist", "cifar10" or "nmnist"
    :param architecture: layers in the paper's notation, e.g. ``"15C5-P2-40C5-P2-300-10"``
    :param steps: time steps T
    :param tau_m: membrane time constant (steps)
    :param tau_s: synaptic time constant (steps)
    :param lr: AdamW learning rate
    :param epochs: number of epochs
    :param batch_size: mini-batch size
    :param loss: "van_rossum" (spike-sequence targets) or "count" (spike-count targets)
    :param target: target spike pattern of :func:`snntorch_tssl.spikegen.targets_spike_sequence`
    :param conv_init_scale: factor applied to PyTorch's default convolution initialisation
    :param dropout: dropout probability after every hidden spiking layer (0 = none)
    :param augment: random crop (padding 4) and horizontal flip of the training images
    :param weight_decay: AdamW weight decay
    :param clip_norm: global gradient-norm clip
    :param weight_clamp: weights are clamped to ``[-weight_clamp, weight_clamp]`` after each step

    Example::

        from dataclasses import replace
        from snntorch_tssl.experiments import get_preset

        preset = replace(get_preset("mnist-mlp"), epochs=1, steps=5)  # a preset with two settings changed
    """

    name: str
    dataset: str
    architecture: str
    steps: int
    tau_m: float
    tau_s: float
    lr: float
    epochs: int
    batch_size: int
    loss: str = "van_rossum"
    target: str = "tssl"
    conv_init_scale: float = 1.0
    dropout: float = 0.0
    augment: bool = False
    weight_decay: float = 0.01
    clip_norm: float = 1.0
    weight_clamp: float = 4.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"name must be a non-empty str, got {type(self.name).__name__} {self.name!r}")
        check_choice("dataset", self.dataset, DATASETS)
        if not isinstance(self.architecture, str) or not self.architecture:
            raise TypeError(f"architecture must be a non-empty str like '15C5-P2-300-10', got {self.architecture!r}")
        check_int("steps", self.steps, 1)
        check_time_constant("tau_m", self.tau_m, allow_inf=True)
        check_time_constant("tau_s", self.tau_s)
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_choice("loss", self.loss, LOSSES)
        check_choice("target", self.target, TARGETS)
        check_positive("conv_init_scale", self.conv_init_scale)
        check_in_range("dropout", self.dropout, 0.0, 1.0, low_closed=True)
        check_bool("augment", self.augment)
        if check_real("weight_decay", self.weight_decay) < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        check_positive("clip_norm", self.clip_norm)
        check_positive("weight_clamp", self.weight_clamp)
        check_positive("lr", self.lr)
        if self.lr * self.weight_decay >= 1.0:
            raise ValueError(
                f"lr must be a finite number in (0, {1 / self.weight_decay:g}): AdamW multiplies the weights by "
                f"1 - lr * weight_decay (weight_decay={self.weight_decay:g}) every step, which must stay positive; "
                f"got {self.lr:g}"
            )

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The names of a preset's settings, in order."""
        return tuple(field.name for field in fields(cls))

    def to_dict(self) -> dict:
        """Return the preset as a plain dict (for JSON results and checkpoints)."""
        return asdict(self)

    def with_overrides(self, **overrides: object) -> Preset:
        """Return a copy with the given fields replaced (``None`` values are ignored)."""
        return replace(self, **{key: value for key, value in overrides.items() if value is not None})


_MLP = "784-400-400-10"

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset("quickstart", "mnist-bundled", _MLP, 5, 5.0, 3.0, 5e-4, 4, 100),
        Preset("mnist-mlp", "mnist", _MLP, 5, 5.0, 3.0, 5e-4, 100, 100),
        Preset("mnist-cnn", "mnist", "15C5-P2-40C5-P2-300-10", 5, 5.0, 3.0, 5e-4, 200, 50),
        Preset("fmnist-mlp", "fmnist", _MLP, 5, 5.0, 3.0, 5e-4, 100, 100),
        Preset("fmnist-cnn", "fmnist", "32C5p2-P2-64C5p2-P2-1024-10", 5, 5.0, 3.0, 5e-4, 100, 50),
        Preset("nmnist-cnn", "nmnist", "12C5p1-P2-64C5-P2-10", 30, 8.0, 4.0, 5e-4, 100, 50, loss="count"),
        Preset(
            "cifar10-cnn1",
            "cifar10",
            "96C3-256C3-P2-384C3-P2-384C3-256C3-1024-1024-10",
            5,
            5.0,
            3.0,
            2e-4,
            150,
            50,
            conv_init_scale=5.0,
            dropout=0.2,
            augment=True,
        ),
        Preset(
            "cifar10-cnn2",
            "cifar10",
            "128C3-256C3-P2-512C3-P2-1024C3-512C3-1024-512-10",
            5,
            5.0,
            3.0,
            2e-4,
            150,
            50,
            conv_init_scale=5.0,
            dropout=0.2,
            augment=True,
        ),
    )
}


def get_preset(name: str) -> Preset:
    """Return the preset called ``name``.

    :param name: a name of ``PRESETS`` (see ``python -m snntorch_tssl list``)
    :raises ValueError: if there is no such preset

    Example::

        from snntorch_tssl.experiments import get_preset

        get_preset("mnist-cnn").architecture  # '15C5-P2-40C5-P2-300-10'
    """
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {name!r}")
    return PRESETS[name]
