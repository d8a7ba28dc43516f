"""The benchmark scripts run end to end (tiny sizes) and write their JSON results."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_data import write_nmnist_bin

ROOT = Path(__file__).resolve().parents[1]
OURS = "SynapticSequence + tssl"


def run_script(name: str, *args: str) -> None:
    env = os.environ | {"PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / name), *args], check=True, env=env, cwd=ROOT, timeout=300)


def refused_script(name: str, *args: str) -> str:
    """Run a benchmark script that must refuse its arguments (argparse's exit status 2); its stderr."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    command = [sys.executable, str(ROOT / "benchmarks" / name), *args]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    return done.stderr


@pytest.mark.slow
def test_layer_benchmark(tmp_path):
    run_script("layer_benchmark.py", "--out", str(tmp_path), "--sizes", "32", "--steps", "6", "--repeats", "2")
    results = json.loads((tmp_path / "layer_cpu.json").read_text())
    variants = {run["variant"] for run in results["runs"]}
    assert {OURS, "snn.Leaky + atan (Linear per step)", "snn.Leaky + tssl (Linear per step)"} <= variants
    ours = next(run for run in results["runs"] if run["variant"] == OURS)
    assert len(ours["total_samples"]) == 2 and ours["saved_bytes"] > 0
    assert (tmp_path / "layer_cpu.png").stat().st_size > 0


@pytest.mark.slow
def test_training_benchmark(tmp_path):
    args = ["--out", str(tmp_path), "--nets", "mlp", "cnn", "--steps", "2", "--batch", "2", "--repeats", "1"]
    run_script("training_benchmark.py", *args)
    results = json.loads((tmp_path / "training_cpu.json").read_text())
    assert {(run["net"], run["variant"]) for run in results["runs"]} >= {("mlp", OURS), ("cnn", OURS)}
    assert all(ratio > 0 for ratio in results["ratios"].values()) and len(results["ratios"]) == 4


@pytest.mark.slow
def test_time_scaling_benchmark(tmp_path):
    run_script("time_scaling.py", "--out", str(tmp_path), "--steps", "5", "100", "1000", "--n", "4", "--repeats", "1")
    results = json.loads((tmp_path / "time_scaling_cpu.json").read_text())
    assert {run["steps"] for run in results["runs"] if run["variant"] == OURS} == {5, 100, 1000}
    assert results["ratios"]["backward_T1000_over_T100"] > 0


@pytest.mark.slow
def test_switch_grid(tmp_path):
    args = ["--out", str(tmp_path), "--data-root", "bundled", "--losses", "mse-count", "ce-membrane"]
    args += ["--neurons", "leaky", "synaptic", "--steps", "2", "--seeds", "0", "--batches", "2", "--test-size", "40"]
    run_script("switch_grid.py", *args, "--rules", "atan", "tssl", "tssl-hidden-atan-output")
    runs = json.loads((tmp_path / "switch_grid.json").read_text())["runs"]
    assert len(runs) == 12 and all(0 <= run["accuracy"] <= 1 for run in runs)
    table = (tmp_path / "switch_grid.md").read_text()
    assert table.startswith("| loss | neuron | T | atan | tssl | tssl-hidden-atan-output |")
    assert (tmp_path / "switch_grid.png").stat().st_size > 0


@pytest.mark.slow
def test_switch_grid_over_beta_and_reset(tmp_path):
    """--betas and --resets: each run records its beta and reset, which label the neuron column."""
    args = ["--out", str(tmp_path), "--data-root", "bundled", "--losses", "mse-count", "--neurons", "leaky"]
    args += ["--steps", "2", "--seeds", "0", "--batches", "1", "--test-size", "20", "--network", "tutorial6"]
    run_script("switch_grid.py", *args, "--betas", "0.5", "0.9", "--resets", "zero", "--rules", "fast_sigmoid")
    runs = json.loads((tmp_path / "switch_grid.json").read_text())["runs"]
    assert sorted((run["beta"], run["reset"]) for run in runs) == [(0.5, "zero"), (0.9, "zero")]
    table = (tmp_path / "switch_grid.md").read_text()
    assert "| mse-count | leaky β=0.5 zero | 2 |" in table and "| mse-count | leaky β=0.9 zero | 2 |" in table


def test_switch_grid_records_the_rules_warnings(tmp_path):
    """A run records the batch at which each of tssl()'s training warnings first fired (a softmax over
    spikes at once; none for a surrogate) and, at every batch, its training loss, output firing rate and
    gradient norm before clipping, which are plotted."""
    args = ["--out", str(tmp_path), "--data-root", "bundled", "--losses", "ce-rate", "--neurons", "leaky"]
    args += ["--steps", "2", "--seeds", "0", "--batches", "2", "--test-size", "20"]
    run_script("switch_grid.py", *args, "--rules", "atan", "tssl")
    runs = {run["rule"]: run for run in json.loads((tmp_path / "switch_grid.json").read_text())["runs"]}
    assert runs["tssl"]["warnings"] == {"softmax": 0} and runs["atan"]["warnings"] == {}
    assert all(len(run["losses"]) == 2 and run["losses"][-1] == run["final_loss"] for run in runs.values())
    assert all(len(run["output_rates"]) == 2 and 0 <= min(run["output_rates"]) <= 1 for run in runs.values())
    assert all(len(run["grad_norms"]) == 2 and min(run["grad_norms"]) > 0 for run in runs.values())
    assert (tmp_path / "switch_grid_losses.png").stat().st_size > 0


def test_switch_grid_records_the_gradient_norm_before_clipping(tmp_path):
    """A clipped run records the norm its gradient had before clipping: equal to the unclipped run's
    until the first clipped step, after which the two runs part."""
    args = ["--out", str(tmp_path), "--data-root", "bundled", "--losses", "mse-count", "--neurons", "leaky"]
    args += ["--steps", "5", "--seeds", "0", "--batches", "3", "--test-size", "20", "--network", "tutorial6"]
    args += ["--betas", "0.95", "--resets", "zero"]
    run_script("switch_grid.py", *args, "--rules", "tssl-warmup-width-0.2", "tssl-clip-grad-norm-1")  # the same rule
    runs = {run["rule"]: run for run in json.loads((tmp_path / "switch_grid.json").read_text())["runs"]}
    unclipped, clipped = runs["tssl-warmup-width-0.2"]["grad_norms"], runs["tssl-clip-grad-norm-1"]["grad_norms"]
    first = next(batch for batch, norm in enumerate(unclipped) if norm > 1)
    assert first < 2 and clipped[: first + 1] == unclipped[: first + 1]
    assert clipped[first + 1] != unclipped[first + 1]
    assert max(runs["tssl-warmup-width-0.2"]["output_rates"]) > 0


def test_diagnose_tutorial6(tmp_path):
    args = ["--out", str(tmp_path), "--data-root", "bundled", "--steps", "2", "--at", "0", "1", "--beta", "0.9"]
    run_script("diagnose_tutorial6.py", *args)
    report = (tmp_path / "diagnose.md").read_text()
    assert report.count("## Before batch") == 2
    assert "| features.2 | tssl() |" in report and "| classifier.1.weight |" in report


def test_switch_grid_tutorial6_network(tmp_path):
    """Tutorial 6's CNN (neurons with init_hidden=True in nn.Sequential); a folder holds one network."""
    args = ["--out", str(tmp_path), "--data-root", "bundled", "--losses", "mse-count", "--neurons", "leaky"]
    args += ["--steps", "2", "--seeds", "0", "--batches", "2", "--test-size", "40"]
    run_script("switch_grid.py", *args, "--network", "tutorial6", "--rules", "atan", "tssl")
    results = json.loads((tmp_path / "switch_grid.json").read_text())
    assert results["network"] == "tutorial6" and len(results["runs"]) == 2
    assert all(0 <= run["hidden_rate"] <= 1 for run in results["runs"])
    assert (tmp_path / "switch_grid.md").read_text().startswith("| loss | neuron | T | atan | tssl |")
    assert "holds runs of tutorial6" in refused_script("switch_grid.py", *args, "--network", "tutorial5")
    longer = list(args)
    longer[longer.index("--batches") + 1] = "3"
    assert "holds runs of [2] batches" in refused_script("switch_grid.py", *longer, "--network", "tutorial6")


def test_switch_grid_tutorial7_network(tmp_path):
    """Tutorial 7's N-MNIST network on a folder of recordings, every frame of them (--steps 0)."""
    data = tmp_path / "nmnist"
    for split, count in (("Train", 3), ("Test", 2)):
        for i in range(count):  # recordings of 4 and 6 ms: a batch is padded to its longest
            events = [(3 + t % 2, 4, i % 2, 1000 * t) for t in range(4 + 2 * (i % 2))]  # neighbours: kept by Denoise
            write_nmnist_bin(data / split / str(i) / f"{i:05d}.bin", events)
    out = tmp_path / "out"
    args = ["--out", str(out), "--data-root", str(data), "--network", "tutorial7", "--losses", "mse-count"]
    run_script("switch_grid.py", *args, "--neurons", "leaky", "--seeds", "0", "--batches", "2", "--rules", "tssl")
    results = json.loads((out / "switch_grid.json").read_text())
    assert results["network"] == "tutorial7" and [run["steps"] for run in results["runs"]] == [0]
    assert (out / "switch_grid.md").read_text().splitlines()[2].startswith("| mse-count | leaky | all | ")
    assert "--steps 0" in refused_script("switch_grid.py", *args, "--steps", "10")


@pytest.mark.slow
def test_gradient_scale(tmp_path):
    args = ["--out", str(tmp_path), "--data-root", "bundled", "--at", "0", "2", "--steps", "3", "--batch-size", "8"]
    run_script("gradient_scale.py", *args, "--rules", "atan", "tssl")
    records = json.loads((tmp_path / "gradient_scale.json").read_text())["records"]
    assert [record["batch"] for record in records] == [0, 2]
    assert all(0 <= rate <= 1 for record in records for rate in record["rates"].values())
    assert all(norm >= 0 for record in records for norms in record["norms"].values() for norm in norms.values())
    assert (
        (tmp_path / "gradient_scale.md")
        .read_text()
        .startswith("| batch | firing rate (last hidden, output) | parameter | atan | tssl / atan |")
    )


@pytest.mark.parametrize(
    "grid",
    [
        "switch",
        "switch_ablations",
        "switch_tutorial6",
        "switch_cnn",
        "switch_tutorial6_as_written",
        "switch_tutorial7",
        "switch_tutorial5_rerun",
        "switch_cnn_losses",
        "switch_cnn_short_cell",
    ],
)
def test_switch_page_shows_the_committed_grid(tmp_path, grid):
    """docs/switch.md carries the tables that benchmarks/switch_grid.py draws from its committed JSON."""
    committed = ROOT / "benchmarks" / "results" / grid / "switch_grid.json"
    (tmp_path / "switch_grid.json").write_text(committed.read_text())
    run_script("switch_grid.py", "--out", str(tmp_path), "--plot-only")
    assert (tmp_path / "switch_grid.md").read_text().strip() in (ROOT / "docs" / "switch.md").read_text()


def test_gpu_check_smoke(tmp_path):
    """The GPU check's code path on CPU at tiny sizes (its Triton variants in Triton's interpreter)."""
    run_script("gpu_check.py", "--out", str(tmp_path), "--smoke")
    results = json.loads((tmp_path / "gpu_check.json").read_text())
    assert results["tests"]["triton"]["returncode"] == 0 and results["tests"]["triton"]["tests"] == 1
    variants = {run["variant"] for run in results["layer"]["runs"]}
    expected = {
        "SynapticSequence + tssl (triton)",
        "SynapticSequence + tssl (torch)",
        "snn.Leaky + atan (Linear per step)",
    }
    assert expected <= variants and not results["measured_on_gpu"]
    assert {record["rule"] for record in results["training"]} == {"tssl", "stbp-rectangular", "atan"}
    assert all(record["samples_per_s"] > 0 for record in results["training"])
    assert (tmp_path / "gpu_check.png").stat().st_size > 0


def test_switch_grid_plot_gives_a_rule_one_colour_in_every_panel(tmp_path, monkeypatch):
    """A panel without one rule's runs draws the other rules in their own colours, not shifted."""
    import matplotlib
    from matplotlib.colors import to_hex
    from matplotlib.figure import Figure

    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import switch_grid

    cell = {"mean": 50.0, "spread": 1.0}
    summary = {
        (loss, "leaky", steps, rule): cell
        for loss, rules in (("ce-rate", ["atan", "tssl", "fast_sigmoid"]), ("mse-count", ["atan", "fast_sigmoid"]))
        for steps in (5, 10)
        for rule in rules
    }
    drawn = []
    monkeypatch.setattr(Figure, "savefig", lambda figure, *args, **kwargs: drawn.append(figure))
    switch_grid.plot(summary, ["atan", "tssl", "fast_sigmoid"], tmp_path / "plot.png")
    cycle = [to_hex(c) for c in matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]]
    panels = drawn[0].axes
    colours = [{to_hex(line.get_color()) for line in axis.get_lines() if line.get_marker() == "o"} for axis in panels]
    assert colours == [{cycle[0], cycle[1], cycle[2]}, {cycle[0], cycle[2]}]
    assert [text.get_text() for text in panels[0].get_legend().get_texts()] == ["atan", "tssl", "fast_sigmoid"]
