"""A training run's settings (:class:`TrainConfig`), their checks, and the error of a run that cannot be built."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from snntorch_tssl._validation import check_bool, check_choice, check_int
from snntorch_tssl.experiments.models import ENGINES
from snntorch_tssl.experiments.presets import Preset

#: Seeds are ints in this range (what every random generator of the run accepts).
SEED_RANGE = (0, 2**32 - 1)


class ConfigError(ValueError):
    """The requested run cannot be built (unknown rule, unusable T, bad checkpoint, ...)."""


def check_seed(seed: object) -> int:
    """Return ``seed`` after checking it is an int in :data:`SEED_RANGE`."""
    low, high = SEED_RANGE
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int in [{low}, {high}], got {type(seed).__name__} {seed!r}")
    if not low <= seed <= high:
        raise ValueError(f"seed must be an int in [{low}, {high}], got {seed}")
    return seed


@dataclass
class TrainConfig:
    """Everything a training run depends on (checked when it is made).

    :param preset: the experiment (with any command-line overrides applied)
    :param rule: gradient method, a name of :func:`snntorch_tssl.rules.available`
    :param engine: "sequence" (:class:`snntorch_tssl.SynapticSequence`) or "stock" (``snn.Synaptic`` in a loop)
    :param seed: seed of the weights, the data order, dropout and augmentation, in ``[0, 2**32 - 1]``
    :param device: "cpu", "cuda", "cuda:N" or "auto" (CUDA when available)
    :param data_root: dataset folder (``None``: the bundled subset, or ``./data`` for other datasets)
    :param out: folder for metrics, checkpoint and plots; it must not hold another run
    :param resume: checkpoint file or run folder to continue from
    :param download: let torchvision/tonic download missing datasets
    :param max_batches: stop each training and test pass after this many batches (smoke tests)
    :param workers: DataLoader worker processes
    :param progress: show tqdm progress bars (rank 0 only)
    :param threads: CPU threads per process (``None``: PyTorch's default)

    Example::

        from snntorch_tssl.experiments import TrainConfig, get_preset

        config = TrainConfig(preset=get_preset("quickstart"), rule="tssl", engine="sequence", out="runs/quickstart")
    """

    preset: Preset
    rule: str = "tssl"
    engine: str = "sequence"
    seed: int = 0
    device: str = "auto"
    data_root: str | None = None
    out: Path = field(default_factory=lambda: Path("runs"))
    resume: Path | None = None
    download: bool = True
    max_batches: int | None = None
    workers: int = 0
    progress: bool = True
    threads: int | None = 1

    def __post_init__(self) -> None:
        if not isinstance(self.preset, Preset):
            raise TypeError(f"preset must be a Preset (see get_preset), got {type(self.preset).__name__}")
        if not isinstance(self.rule, str):
            raise TypeError(f"rule must be a str naming a rule, got {type(self.rule).__name__} {self.rule!r}")
        check_choice("engine", self.engine, ENGINES)
        check_seed(self.seed)
        if not isinstance(self.device, str):
            raise TypeError(f"device must be a str ('auto', 'cpu', 'cuda', 'cuda:N'), got {self.device!r}")
        self.out = Path(self.out)
        self.resume = None if self.resume is None else Path(self.resume)
        check_bool("download", self.download)
        check_bool("progress", self.progress)
        check_int("workers", self.workers, 0)
        for name in ("max_batches", "threads"):
            if getattr(self, name) is not None:
                check_int(name, getattr(self, name), 1)

    def describe(self) -> dict:
        """The run's settings as a JSON-ready dict (stored in metrics and checkpoints)."""
        settings = {key: value for key, value in asdict(self).items() if key not in ("preset", "out", "resume")}
        return {"preset": self.preset.to_dict(), **settings}
