"""Presets, network builder and the training command line, end to end on tiny data."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from snntorch import surrogate
from tiny_data import write_mnist, write_nmnist_bin

import snntorch_tssl
from snntorch_tssl import SynapticSequence
from snntorch_tssl.experiments import PRESETS, StockSynaptic, build_model, get_preset, parse_architecture
from snntorch_tssl.experiments.cli import main
from snntorch_tssl.experiments.results import atomic_write_bytes

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mnist_root(tmp_path_factory):
    return write_mnist(tmp_path_factory.mktemp("data"))


def run_cli(*args: str) -> int:
    return main(["train", "--no-progress", "--device", "cpu", *args])


def tiny(root: Path, out: Path, *extra: str) -> tuple[str, ...]:
    return ("--preset", "mnist-mlp", "--data-root", str(root), "--batch-size", "10", "--epochs", "1",
            "--max-batches", "2", "--out", str(out), "--no-download", *extra)  # fmt: skip


def metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


# ----------------------------------------------------------------- presets and models


def test_parse_architecture_paper_notation():
    assert parse_architecture("32C5p2-P2-1024-10") == [
        ("conv", (32, 5, 2)),
        ("pool", (2,)),
        ("dense", (1024,)),
        ("dense", (10,)),
    ]
    with pytest.raises(ValueError, match="'5X3'"):
        parse_architecture("15C5-5X3-10")


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_builds_with_the_recipe(name):
    preset = get_preset(name)
    shape = {"nmnist": (2, 34, 34), "cifar10": (3, 32, 32)}.get(preset.dataset, (1, 28, 28))
    torch.manual_seed(0)
    net = build_model(
        preset.architecture,
        shape,
        tau_s=preset.tau_s,
        tau_m=preset.tau_m,
        spike_grad=surrogate.atan,
        conv_init_scale=preset.conv_init_scale,
        dropout=preset.dropout,
    )
    assert all(p.dim() > 1 for p in net.parameters())  # no biases anywhere
    assert len(net.spiking_layers()) == sum(not token.startswith("P") for token in preset.architecture.split("-")) - (
        preset.architecture.startswith("784-")
    )
    assert sum(isinstance(m, torch.nn.Dropout) for m in net) == (len(net.spiking_layers()) - 1) * (preset.dropout > 0)
    if "cifar10" not in name:
        assert net(torch.rand(2, 1, *shape)).shape == (2, 1, 10)


def test_conv_init_scale_and_kaiming_linear():
    torch.manual_seed(0)
    plain = build_model("8C3-10", (3, 8, 8), tau_s=3.0, tau_m=5.0, spike_grad=surrogate.atan)
    torch.manual_seed(0)
    scaled = build_model("8C3-10", (3, 8, 8), tau_s=3.0, tau_m=5.0, spike_grad=surrogate.atan, conv_init_scale=5.0)
    assert torch.allclose(scaled[0].module.weight, 5 * plain[0].module.weight)
    torch.manual_seed(0)
    dense = build_model("4000-10", (1000,), tau_s=3.0, tau_m=5.0, spike_grad=surrogate.atan)
    assert abs(float(dense[0].weight.detach().std()) - (2 / 1000) ** 0.5) < 0.003  # kaiming normal, fan_in


def test_stock_engine_is_the_same_network():
    """snn.Synaptic(reset 'zero', reset_delay=False) fed W x / tau_s spikes exactly like SynapticSequence."""
    kwargs = {"tau_s": 3.0, "tau_m": 5.0, "spike_grad": surrogate.atan}
    torch.manual_seed(1)
    sequence = build_model("6C3-P2-20-10", (1, 10, 10), engine="sequence", **kwargs)
    torch.manual_seed(1)
    stock = build_model("6C3-P2-20-10", (1, 10, 10), engine="stock", **kwargs)
    assert isinstance(sequence[1], SynapticSequence) and isinstance(stock[1], StockSynaptic)
    x = torch.rand(6, 4, 1, 10, 10) * 4
    spikes = sequence(x)
    assert spikes.sum() > 0
    assert torch.equal(spikes, stock(x))


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    atomic_write_bytes(path, b"old")

    def broken(*_args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]


# ----------------------------------------------------------------- end to end


@pytest.mark.parametrize("engine,rule", [("sequence", "tssl"), ("stock", "tssl"), ("sequence", "atan")])
def test_tiny_preset_end_to_end(mnist_root, tmp_path, engine, rule):
    out = tmp_path / "run"
    assert run_cli(*tiny(mnist_root, out, "--engine", engine, "--rule", rule)) == 0
    result = metrics(out)
    assert result["finished"] and result["config"]["engine"] == engine and result["config"]["rule"] == rule
    row = result["epochs"][0]
    for key in (
        "train_loss",
        "train_accuracy",
        "test_accuracy",
        "best_test_accuracy",
        "epoch_time_s",
        "epoch_cpu_time_s",
    ):
        assert isinstance(row[key], float)
    assert row["train_samples_per_s"] > 0
    assert set(row["silent_fraction"]) == {"layer1", "layer2", "layer3"}
    assert all(0.0 <= v <= 1.0 for v in row["silent_fraction"].values())
    for name in ("checkpoint.pt", "accuracy.png", "raster.png"):
        assert (out / name).stat().st_size > 0
    assert not list(out.glob(".*.tmp"))


def test_nmnist_preset_with_count_loss(tmp_path):
    for index in range(4):
        write_nmnist_bin(tmp_path / "data" / "Train" / str(index) / f"{index}.bin", [(5 + index, 7, 1, 100 * index)])
        write_nmnist_bin(tmp_path / "data" / "Test" / str(index) / f"{index}.bin", [(9, 9 + index, 0, 2000)])
    out = tmp_path / "run"
    args = ("--preset", "nmnist-cnn", "--data-root", str(tmp_path / "data"), "--steps", "4", "--batch-size", "2")
    assert run_cli(*args, "--epochs", "1", "--out", str(out), "--no-download") == 0
    assert metrics(out)["config"]["preset"]["loss"] == "count"


def test_seeded_runs_are_bit_identical_and_resume_continues_exactly(mnist_root, tmp_path):
    two = ("--epochs", "2")
    assert run_cli(*tiny(mnist_root, tmp_path / "a"), *two) == 0
    assert run_cli(*tiny(mnist_root, tmp_path / "c")) == 0
    resume = ("--resume", str(tmp_path / "c"), "--epochs", "2", "--max-batches", "2", "--no-progress")
    assert run_cli(*resume, "--data-root", str(mnist_root)) == 0
    # run c is a fresh process state for epoch 1 (same seed) and a resumed one for epoch 2
    states = [torch.load(tmp_path / name / "checkpoint.pt", weights_only=True)["model"] for name in "ac"]
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key])
    rows = [metrics(tmp_path / name)["epochs"] for name in "ac"]
    for field in ("train_loss", "train_accuracy", "test_accuracy", "silent_fraction"):
        assert [r[field] for r in rows[0]] == [r[field] for r in rows[1]]


# ----------------------------------------------------------------- bad inputs


def _no_results(out: Path) -> bool:
    return not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize(
    "args,code,message",
    [
        (("--preset", "mnist-rnn"), 2, "preset must be one of"),
        (("--rule", "no-such-rule"), 2, "rule must be one of"),
        (("--steps", "1"), 2, "target pattern 'tssl' cannot be used with T=1"),
        (("--steps", "1", "--target", "tssl-paper"), 2, "gives the label neuron the target [0.0]"),
    ],
)
def test_bad_arguments_exit_with_clear_message(mnist_root, tmp_path, capsys, args, code, message):
    out = tmp_path / "run"
    base = dict(zip(tiny(mnist_root, out)[::2], tiny(mnist_root, out)[1::2], strict=False))
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [item for pair in base.items() for item in pair if item != "--no-download"] + ["--no-download"]
    assert run_cli(*flat) == code
    assert message in capsys.readouterr().err
    assert _no_results(out)


def test_data_root_without_files(tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(*tiny(tmp_path / "empty", out)) == 3
    err = capsys.readouterr().err
    assert "MNIST/raw/" in err and "train-images-idx3-ubyte.gz" in err
    assert _no_results(out)


def test_checkpoint_from_another_preset(mnist_root, tmp_path, capsys):
    assert run_cli(*tiny(mnist_root, tmp_path / "mlp")) == 0
    out = tmp_path / "other"
    args = ("--preset", "mnist-cnn", "--resume", str(tmp_path / "mlp"), "--data-root", str(mnist_root))
    assert run_cli(*args, "--out", str(out), "--max-batches", "1") == 4
    assert "is from preset 'mnist-mlp'" in capsys.readouterr().err
    assert _no_results(out)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    assert run_cli("--resume", str(tmp_path / "junk.pt"), "--out", str(out)) == 4
    assert _no_results(out)


def test_default_results_folder_is_never_overwritten(tmp_path, monkeypatch):
    """Without --out, a second identical command writes next to the first run, whose files keep every byte."""
    monkeypatch.chdir(tmp_path)
    quick = ("--epochs", "1", "--max-batches", "1")
    assert run_cli(*quick) == 0
    first = tmp_path / "runs" / "quickstart-tssl-sequence-seed0"
    before = {path.name: path.read_bytes() for path in first.iterdir()}
    assert sorted(before) == ["accuracy.png", "checkpoint.pt", "metrics.json", "raster.png"]
    assert run_cli(*quick) == 0
    assert {path.name: path.read_bytes() for path in first.iterdir()} == before
    second = tmp_path / "runs" / "quickstart-tssl-sequence-seed0-2"
    assert metrics(second)["finished"]
    umask = os.umask(0)
    os.umask(umask)
    assert {oct(path.stat().st_mode & 0o777) for path in second.iterdir()} == {oct(0o666 & ~umask)}


def test_resume_continues_in_its_own_folder(mnist_root, tmp_path):
    """--resume RUN writes into RUN (continuing it is no overwrite); checkpoints load without running code."""
    run = tmp_path / "run"
    assert run_cli(*tiny(mnist_root, run)) == 0
    assert run_cli("--resume", str(run), "--epochs", "2", "--max-batches", "1", "--data-root", str(mnist_root)) == 0
    assert [row["epoch"] for row in metrics(run)["epochs"]] == [1, 2]
    assert torch.load(run / "checkpoint.pt", weights_only=True)["epoch"] == 2


def test_version_of_the_module_and_the_installed_script():
    script = Path(sys.executable).parent / "snntorch-tssl"  # installed next to the interpreter (pip install -e .)
    commands = [[sys.executable, "-m", "snntorch_tssl", "--version"]] + [[str(script), "--version"]] * script.exists()
    for command in commands:
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert done.returncode == 0 and done.stdout.strip() == f"snntorch-tssl {snntorch_tssl.__version__}", command


def test_module_entry_point_exit_code(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "snntorch_tssl", "train", "--preset", "nope", "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2 and "preset must be one of" in done.stderr


def test_torchrun_two_processes_gloo(mnist_root, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "-m", "snntorch_tssl", "train", "--no-progress", "--device", "cpu", *tiny(mnist_root, out)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    result = metrics(out)
    assert result["world_size"] == 2
    assert result["epochs"][0]["test_accuracy"] >= 0
    assert done.stdout.count("epoch 1/1") == 1  # rank 0 logs alone
