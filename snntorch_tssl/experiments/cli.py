"""Command line: ``python -m snntorch_tssl train`` (also installed as ``snntorch-tssl``).

Exit codes: 0 success; 2 bad arguments (unknown preset or rule, a T the
target pattern cannot use, a seed or learning rate out of range, a device
other than CPU or CUDA, ...); 3 dataset files missing; 4 unusable checkpoint
(unreadable, malformed, non-finite, or of another experiment); 5 the results
folder cannot be used (it is a file, cannot be written, holds another run, or
a write failed, e.g. on a full disk); 130 interrupted. Every error ends the
command with one line ``snntorch-tssl: error: ...`` on standard error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from snntorch_tssl import __version__
from snntorch_tssl.data import DataNotFoundError
from snntorch_tssl.experiments.checkpoints import CheckpointError, load_checkpoint
from snntorch_tssl.experiments.config import TrainConfig
from snntorch_tssl.experiments.models import ENGINES
from snntorch_tssl.experiments.presets import PRESETS, TARGETS, get_preset
from snntorch_tssl.experiments.results import OutputError, fresh_output
from snntorch_tssl.experiments.train import train

EXIT_USAGE, EXIT_DATA, EXIT_CHECKPOINT, EXIT_OUTPUT, EXIT_INTERRUPTED = 2, 3, 4, 5, 130
DEFAULT_PRESET = "quickstart"


def build_parser() -> argparse.ArgumentParser:
    """The ``snntorch-tssl`` argument parser (sub-commands ``train`` and ``list``)."""
    parser = argparse.ArgumentParser(
        prog="snntorch-tssl",
        description="Train the TSSL-BP paper's spiking networks with any registered gradient rule.",
        epilog="Without a command, 'train' runs: the 784-400-400-10 MLP at T=5 on the bundled MNIST subset.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
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
    run.add_argument("--steps", type=int, help="time steps T (default: the preset's)")
    run.add_argument("--epochs", type=int, help="epochs (default: the preset's)")
    run.add_argument("--batch-size", type=int, help="mini-batch size per process (default: the preset's)")
    run.add_argument("--lr", type=float, help="AdamW learning rate (default: the preset's)")
    run.add_argument("--target", choices=TARGETS, help="target spike pattern (default: the preset's)")
    run.add_argument("--seed", type=int, help="seed of weights, data order, dropout, augmentation (default 0)")
    run.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default auto)")
    run.add_argument("--data-root", help="dataset folder (default: ./data; the quickstart preset uses bundled data)")
    run.add_argument("--no-download", dest="download", action="store_false", help="never download datasets")
    run.add_argument(
        "--out",
        type=Path,
        help="results folder; it must not hold another run (default runs/<preset>-<rule>-<engine>-seed<seed>, "
        "or that name with -2, -3, ... when it is taken)",
    )
    run.add_argument("--resume", type=Path, help="checkpoint file or results folder to continue from")
    run.add_argument("--max-batches", type=int, help="stop each pass after this many batches (smoke tests)")
    run.add_argument(
        "--threads",
        type=int,
        default=1,
        help="CPU threads per process (default 1: the networks are small and shared machines thrash with more)",
    )
    run.add_argument("--workers", type=int, default=0, help="DataLoader worker processes (default 0)")
    run.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")
    commands.add_parser("list", help="list the presets and the gradient rules")
    return parser


def _config(args: argparse.Namespace) -> TrainConfig:
    overrides = {"steps": args.steps, "epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr}
    overrides["target"] = args.target
    if args.resume is None:
        preset = get_preset(args.preset or DEFAULT_PRESET)
        saved = {"rule": "tssl", "engine": "sequence", "seed": 0}
    else:
        checkpoint = load_checkpoint(args.resume)
        preset = checkpoint.preset
        saved = {"rule": checkpoint.rule, "engine": checkpoint.engine, "seed": checkpoint.seed}
        if args.preset is not None and args.preset != preset.name:
            get_preset(args.preset)
            raise CheckpointError(
                f"checkpoint {str(checkpoint.path)!r} is from preset {preset.name!r}, "
                f"but this run uses preset {args.preset!r}"
            )
    preset = preset.with_overrides(**overrides)
    rule = args.rule or saved["rule"]
    engine = args.engine or saved["engine"]
    seed = saved["seed"] if args.seed is None else args.seed
    out = args.out
    if out is None:
        if args.resume is not None:
            out = checkpoint.path.parent
        else:
            out = fresh_output(Path("runs") / f"{preset.name}-{rule}-{engine}-seed{seed}")
    return TrainConfig(
        preset=preset,
        rule=rule,
        engine=engine,
        seed=seed,
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
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version"):
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
        return _fail(error, EXIT_CHECKPOINT)
    except DataNotFoundError as error:
        return _fail(error, EXIT_DATA)
    except OutputError as error:
        return _fail(error, EXIT_OUTPUT)
    except ValueError as error:
        return _fail(error, EXIT_USAGE)
    except KeyboardInterrupt:
        print("snntorch-tssl: interrupted; the last finished epoch is saved (continue with --resume)", file=sys.stderr)
        return EXIT_INTERRUPTED
    last, best = result["epochs"][-1]["test_accuracy"], result["best_test_accuracy"]
    print(f"test accuracy {100 * last:.2f}% (best {100 * best:.2f}%)")
    return 0


def _fail(error: Exception, code: int) -> int:
    """Report ``error`` in one line on standard error and return the exit ``code``."""
    print(f"snntorch-tssl: error: {' '.join(str(error).split())}", file=sys.stderr)
    return code
