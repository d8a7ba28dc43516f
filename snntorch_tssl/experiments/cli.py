"""Command line: ``python -m snntorch_tssl train`` (also installed as ``snntorch-tssl``).

Exit codes: 0 success; 2 bad arguments (unknown preset or rule, a T the
target pattern cannot use, ...); 3 dataset files missing; 4 unusable
checkpoint; 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from snntorch_tssl.data import DataNotFoundError
from snntorch_tssl.experiments.models import ENGINES
from snntorch_tssl.experiments.presets import PRESETS, Preset, get_preset
from snntorch_tssl.experiments.train import CHECKPOINT, CheckpointError, TrainConfig, train

EXIT_USAGE, EXIT_DATA, EXIT_CHECKPOINT, EXIT_INTERRUPTED = 2, 3, 4, 130
DEFAULT_PRESET = "quickstart"


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number > 0, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``snntorch-tssl`` argument parser (sub-commands ``train`` and ``list``)."""
    parser = argparse.ArgumentParser(
        prog="snntorch-tssl",
        description="Train the TSSL-BP paper's spiking networks with any registered gradient rule.",
        epilog="Without a command, 'train' runs: the 784-400-400-10 MLP at T=5 on the bundled MNIST subset.",
    )
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser(
        "train",
        help="train a preset (default: quickstart, the MLP on the bundled MNIST subset)",
        description="Train one of the paper's experiments. Multi-process: torchrun --nproc_per_node=N -m "
        "snntorch_tssl train ... (gloo on CPU, nccl on CUDA).",
    )
    run.add_argument("--preset", default=None, help=f"one of {', '.join(PRESETS)} (default {DEFAULT_PRESET})")
    run.add_argument("--rule", help="gradient rule: tssl (default), stbp-rectangular, atan, ... (see list)")
    run.add_argument("--engine", choices=ENGINES, help="sequence (SynapticSequence, default) or stock (snn.Synaptic)")
    run.add_argument("--steps", type=_positive_int, help="time steps T (default: the preset's)")
    run.add_argument("--epochs", type=_positive_int, help="epochs (default: the preset's)")
    run.add_argument("--batch-size", type=_positive_int, help="mini-batch size per process (default: the preset's)")
    run.add_argument("--lr", type=_positive_float, help="AdamW learning rate (default: the preset's)")
    run.add_argument("--target", choices=("tssl", "tssl-paper"), help="target spike pattern (default: the preset's)")
    run.add_argument("--seed", type=int, help="seed of weights, data order, dropout, augmentation (default 0)")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    run.add_argument("--data-root", help="dataset folder (default: ./data; the quickstart preset uses bundled data)")
    run.add_argument("--no-download", dest="download", action="store_false", help="never download datasets")
    run.add_argument("--out", type=Path, help="results folder (default runs/<preset>-<rule>-<engine>-seed<seed>)")
    run.add_argument("--resume", type=Path, help="checkpoint file or results folder to continue from")
    run.add_argument("--max-batches", type=_positive_int, help="stop each pass after this many batches (smoke tests)")
    run.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        help="CPU threads per process (default 1: the networks are small and shared machines thrash with more)",
    )
    run.add_argument("--workers", type=int, default=0, help="DataLoader worker processes (default 0)")
    run.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    commands.add_parser("list", help="list the presets and the gradient rules")
    return parser


def _saved_config(path: Path) -> dict:
    import torch

    path = path / CHECKPOINT if path.is_dir() else path
    try:
        return torch.load(path, map_location="cpu", weights_only=False)["config"]
    except Exception as error:  # any unreadable or foreign file
        raise CheckpointError(f"cannot read checkpoint {str(path)!r}: {error}") from error


def _config(args: argparse.Namespace) -> TrainConfig:
    overrides = {"steps": args.steps, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr}
    overrides["target"] = args.target
    if args.resume is None:
        preset = get_preset(args.preset or DEFAULT_PRESET)
        saved = {"rule": "tssl", "engine": "sequence", "seed": 0}
    else:
        saved = _saved_config(args.resume)
        preset = Preset(**saved["preset"])
        if args.preset is not None and args.preset != preset.name:
            get_preset(args.preset)
            raise CheckpointError(
                f"checkpoint {str(args.resume)!r} is from preset {preset.name!r}, "
                f"but this run uses preset {args.preset!r}"
            )
    preset = preset.with_overrides(**overrides)
    args.rule = args.rule or saved["rule"]
    args.engine = args.engine or saved["engine"]
    args.seed = saved["seed"] if args.seed is None else args.seed
    out = args.out
    if out is None:
        if args.resume is not None:
            out = args.resume if args.resume.is_dir() else args.resume.parent
        else:
            out = Path("runs") / f"{preset.name}-{args.rule}-{args.engine}-seed{args.seed}"
    return TrainConfig(
        preset=preset,
        rule=args.rule,
        engine=args.engine,
        seed=args.seed,
        device=args.device,
        data_root=args.data_root,
        out=out,
        resume=args.resume,
        download=args.download,
        max_batches=args.max_batches,
        workers=args.workers,
        progress=args.progress,
        threads=args.threads,
    )


def _list() -> None:
    print("presets:")
    for preset in PRESETS.values():
        print(f"  {preset.name:13s} {preset.dataset:13s} {preset.architecture}  T={preset.steps}")
    from snntorch_tssl import rules

    print("rules:", ", ".join(rules.available()))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return the exit code.

    :param argv: arguments without the program name (default ``sys.argv[1:]``); empty means ``train``

    Example::

        from snntorch_tssl.experiments.cli import main

        main(["train", "--epochs", "1"])  # the MLP on the bundled MNIST subset
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["train", *argv]
    args = parser.parse_args(argv)
    if args.command == "list":
        _list()
        return 0
    try:
        config = _config(args)
        print(
            f"snntorch-tssl: preset {config.preset.name} ({config.preset.architecture}, T={config.preset.steps}), "
            f"rule {config.rule}, engine {config.engine}, results in {config.out}",
            flush=True,
        )
        result = train(config)
    except CheckpointError as error:
        print(f"snntorch-tssl: error: {error}", file=sys.stderr)
        return EXIT_CHECKPOINT
    except DataNotFoundError as error:
        print(f"snntorch-tssl: error: {error}", file=sys.stderr)
        return EXIT_DATA
    except ValueError as error:
        print(f"snntorch-tssl: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("snntorch-tssl: interrupted; the last finished epoch is saved (continue with --resume)", file=sys.stderr)
        return EXIT_INTERRUPTED
    last, best = result["epochs"][-1]["test_accuracy"], result["best_test_accuracy"]
    print(f"test accuracy {100 * last:.2f}% (best {100 * best:.2f}%)")
    return 0
