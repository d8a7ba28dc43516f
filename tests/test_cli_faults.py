"""Every fault of the training command ends in one clear line and its documented exit code, run as a user runs it.

Each case runs ``python -m snntorch_tssl train ...`` in a fresh process and
checks its exit code, that standard error ends in exactly one line
``snntorch-tssl: error: <message>`` (no traceback), the message, and what
the fault must leave behind: a crafted checkpoint's payload never runs, a
results folder holding a run keeps every byte, a failed run leaves no
results. The cases run two at a time (each process spends most of its time
importing torch). docs/validation.md lists every case.
"""

from __future__ import annotations

import hashlib
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch
from tiny_data import write_mnist

from snntorch_tssl.experiments.cli import main

ROOT = Path(__file__).resolve().parents[1]
USAGE, CHECKPOINT, OUTPUT = 2, 4, 5
TINY = ("--preset", "mnist-mlp", "--batch-size", "10", "--epochs", "1", "--max-batches", "2", "--no-download")


class Payload:
    """Pickles to a call of ``exec``: loading it with ``weights_only=False`` writes ``marker``."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('payload ran')",))


def digest(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


@dataclass
class Case:
    args: list[str]
    code: int
    message: str
    after: Callable[[], None] = lambda: None
    preexec: Callable[[], None] | None = None
    skip: str | None = None
    result: subprocess.CompletedProcess | None = field(default=None, repr=False)


def edited_checkpoint(base: Path, target: Path, edit: Callable[[dict], None]) -> Path:
    state = torch.load(base / "checkpoint.pt", weights_only=True)
    edit(state)
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, target)
    return target


def unwritable_folder(tmp: Path) -> Path | None:
    """A folder this process cannot write into: a read-only one, or for root (who writes anywhere) sysfs."""
    if os.geteuid() != 0:
        locked = tmp / "locked"
        locked.mkdir(mode=0o555)
        return locked
    return Path("/sys") if Path("/sys").is_dir() else None


def file_size_limit() -> None:
    """A full disk, portably: writes past 1 MB fail with EFBIG (Python ignores SIGXFSZ, so write() raises)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))


def no_results(folder: Path) -> Callable[[], None]:
    def check() -> None:  # the folder may exist (a failed write made it) but holds nothing, not even a temporary
        assert not folder.exists() or not any(folder.iterdir()), sorted(folder.iterdir())

    return check


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, Case]:
    tmp = tmp_path_factory.mktemp("faults")
    data = write_mnist(tmp / "data")
    base = tmp / "base"
    assert main(["train", "--no-progress", "--device", "cpu", "--data-root", str(data), "--out", str(base), *TINY]) == 0
    state = torch.load(base / "checkpoint.pt", weights_only=True)
    first = next(iter(state["model"]))  # the first layer's weight
    resume = ["--data-root", str(data), "--max-batches", "1", "--no-download"]

    def resumed(name: str, edit: Callable[[dict], None]) -> list[str]:
        checkpoint = edited_checkpoint(base, tmp / name / "checkpoint.pt", edit)
        return ["--resume", str(checkpoint), "--out", str(tmp / name / "out"), *resume]

    marker = tmp / "payload-ran"
    crafted = tmp / "crafted" / "checkpoint.pt"
    crafted.parent.mkdir()
    torch.save({**state, "model": Payload(marker)}, crafted)
    torch.load(crafted, weights_only=False)  # the payload is live: the unsafe load runs it ...
    assert marker.exists()
    marker.unlink()  # ... and the command line must not

    def payload_did_not_run() -> None:
        assert not marker.exists(), "the crafted checkpoint's payload ran"
        no_results(tmp / "crafted-out")()

    occupied = tmp / "occupied"
    shutil.copytree(base, occupied)
    before = digest(occupied)

    def unchanged() -> None:
        assert digest(occupied) == before

    a_file = tmp / "a-file"
    a_file.write_text("not a folder")
    locked = unwritable_folder(tmp)
    full = tmp / "full"
    new_run = ["--out", str(tmp / "new")]

    found: dict[str, Case] = {
        "crafted checkpoint": Case(
            ["--resume", str(crafted), "--out", str(tmp / "crafted-out"), *resume],
            CHECKPOINT,
            "holds objects other than tensors and plain data, which are never loaded",
            payload_did_not_run,
        ),
        "wrong tensor shape": Case(
            resumed("shape", lambda s: s["model"].__setitem__(first, torch.zeros(3, 3))),
            CHECKPOINT,
            f"does not fit the network: {first} has shape (3, 3) in the checkpoint, (400, 784) in the network",
            no_results(tmp / "shape" / "out"),
        ),
        "missing key": Case(
            resumed("missing", lambda s: s["model"].pop(first)),
            CHECKPOINT,
            f"does not fit the network: missing {first}",
        ),
        "no optimizer": Case(resumed("no-optimizer", lambda s: s.pop("optimizer")), CHECKPOINT, "has no 'optimizer'"),
        "incomplete preset": Case(
            resumed("preset", lambda s: s["config"]["preset"].pop("lr")),
            CHECKPOINT,
            "has an incomplete preset: missing lr",
        ),
        "no seed": Case(resumed("seed", lambda s: s["config"].pop("seed")), CHECKPOINT, "has no seed in its 'config'"),
        "NaN weights": Case(
            resumed("nan", lambda s: s["model"][first].__setitem__((0, 0), float("nan"))),
            CHECKPOINT,
            f"holds non-finite values (NaN or inf) in model.{first}",
        ),
        "resume with another --lr": Case(
            ["--resume", str(base), "--lr", "0.001", "--out", str(tmp / "lr-out"), *resume],
            CHECKPOINT,
            "was trained with lr=0.0005, but this run asks for lr=0.001; a resumed run keeps its settings "
            "(leave out --lr)",
        ),
        "resume with another --steps": Case(
            ["--resume", str(base), "--steps", "7", "--out", str(tmp / "steps-out"), *resume],
            CHECKPOINT,
            "was trained with steps=5, but this run asks for steps=7; a resumed run keeps its settings "
            "(leave out --steps)",
        ),
        "--out holds a run": Case(
            ["--data-root", str(data), "--out", str(occupied), *TINY],
            OUTPUT,
            f"results folder {str(occupied)!r} already holds a run (metrics.json, checkpoint.pt, accuracy.png, "
            f"raster.png); continue it with --resume",
            unchanged,
        ),
        "--out is a file": Case(["--out", str(a_file)], OUTPUT, f"{str(a_file)!r} is a file"),
        "--out inside a file": Case(["--out", str(a_file / "run")], OUTPUT, f"{str(a_file)!r} is a file"),
        "unwritable --out": Case(
            ["--out", str(locked / "snntorch-tssl-run")] if locked else [],
            OUTPUT,
            f"results folder {str(locked / 'snntorch-tssl-run')!r} cannot be written: ",
            skip=None if locked else "running as root, and no folder here refuses root's writes",
        ),
        "disk full": Case(
            ["--out", str(full), "--max-batches", "1", "--epochs", "1"],
            OUTPUT,
            f"cannot write results to {str(full)!r}: File too large (every file there is whole",
            no_results(full),
            preexec=file_size_limit,
        ),
        "--device meta": Case(
            ["--device", "meta", *new_run], USAGE, "device must be 'auto', 'cpu', 'cuda' or 'cuda:N'"
        ),
        "--device mps": Case(["--device", "mps", *new_run], USAGE, "(training runs on CPU or CUDA), got 'mps'"),
        "--lr 1e300": Case(["--lr", "1e300", *new_run], USAGE, "lr must be a finite number in (0, 100): AdamW"),
        "--lr inf": Case(["--lr", "inf", *new_run], USAGE, "lr must be a finite number > 0, got inf"),
        "--seed 2**70": Case(
            ["--seed", str(2**70), *new_run], USAGE, f"seed must be an int in [0, 4294967295], got {2**70}"
        ),
        "--steps 0": Case(["--steps", "0", *new_run], USAGE, "steps must be an int >= 1, got 0"),
    }
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MPLCONFIGDIR": str(tmp / "matplotlib")}

    def run(case: Case) -> None:
        command = [sys.executable, "-m", "snntorch_tssl", "train", "--no-progress", "--device", "cpu", *case.args]
        case.result = subprocess.run(
            command, capture_output=True, text=True, env=env, cwd=tmp, timeout=300, preexec_fn=case.preexec
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(run, [case for case in found.values() if case.skip is None]))
    yield found
    if locked is not None and os.geteuid() != 0:
        locked.chmod(0o755)  # so that pytest can remove it


NAMES = [
    "crafted checkpoint",
    "wrong tensor shape",
    "missing key",
    "no optimizer",
    "incomplete preset",
    "no seed",
    "NaN weights",
    "resume with another --lr",
    "resume with another --steps",
    "--out holds a run",
    "--out is a file",
    "--out inside a file",
    "unwritable --out",
    "disk full",
    "--device meta",
    "--device mps",
    "--lr 1e300",
    "--lr inf",
    "--seed 2**70",
    "--steps 0",
]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions and resource limits")
@pytest.mark.parametrize("name", NAMES)
def test_fault_ends_in_one_clear_line_and_its_exit_code(cases, name):
    case = cases[name]
    if case.skip:
        pytest.skip(case.skip)
    result = case.result
    lines = result.stderr.strip().splitlines()
    assert result.returncode == case.code, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in lines if line.startswith("snntorch-tssl: error:")]
    assert errors == lines[-1:], lines  # one error line, and it is the last
    assert case.message in lines[-1], lines[-1]
    case.after()


def test_every_case_is_listed_and_documented(cases):
    assert sorted(cases) == sorted(NAMES)
    table = (ROOT / "docs" / "validation.md").read_text()
    missing = [name for name in NAMES if f"| {name} |" not in table]
    assert not missing, f"add these rows to docs/validation.md: {missing}"
