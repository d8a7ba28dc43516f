"""The package's GPU check in one command: tests of the CUDA paths, the layer benchmark, training throughput.

On one GPU, in under 8 minutes:

1. the tests that need a GPU (``pytest -m cuda``) and the Triton kernel tests, compiled for real;
2. the Open Neuromorphic layer benchmark: ``nn.Linear(n, n)`` + a LIF layer, T = 500, batch 16,
   n in {1024, 4096, 16384}, forward + backward time (median of repeats after a warm-up round) and
   peak memory, for SynapticSequence + tssl (Triton and PyTorch backends), SynapticSequence + atan,
   stock snn.Leaky + atan and snn.Leaky + tssl, SpikingJelly's multi-step LIF (each implementation
   it offers: torch, triton, cuda in SpikingJelly 2; torch, cupy in 0.0.0.0.x) and Norse's LIF, each
   when importable;
3. training throughput (samples/s) of the paper's mnist-cnn preset at T = 5 on synthetic data, with
   tssl, stbp-rectangular and atan.

It writes ``DIR/gpu_check.json`` and ``DIR/gpu_check.png``; benchmarks/README.md says how to prepare a
machine without network access. ``--smoke`` runs the same code on CPU at tiny sizes in well under two
minutes (the Triton variants then run in Triton's interpreter); the test suite runs it.

Usage::

    python benchmarks/gpu_check.py --out gpu_results
    python benchmarks/gpu_check.py --out /tmp/smoke --smoke
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

# Without a GPU (--smoke) the Triton variants run in Triton's interpreter, chosen before any kernel loads.
if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

from _harness import ROOT, environment, fmt_bytes, measure, measure_round_robin, pyplot, save_results  # noqa: E402
from layer_benchmark import BETA, THRESHOLD, linear_alone, make_input, sequence_variant, stock_leaky_variant  # noqa: E402
from torch import nn  # noqa: E402

SIZES, STEPS, BATCH = [1024, 4096, 16384], 500, 16
SMOKE_SIZES, SMOKE_STEPS, SMOKE_BATCH = [8, 12], 4, 2
TRAINING_RULES = ("tssl", "stbp-rectangular", "atan")
SPIKINGJELLY_IMPLEMENTATIONS = {2: ("torch", "triton", "cuda"), 0: ("torch", "cupy")}
ENVIRONMENT_VARIABLE_OF_SPIKINGJELLY = "SJ_LIF_CUDA_IMPLEMENTATION"  # SpikingJelly 2: which LIF implementation
CUDA_MARK = "@pytest.mark.cuda"


def package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


# --------------------------------------------------------------------------------------------------
# 1. Tests
# --------------------------------------------------------------------------------------------------


def run_pytest(name: str, arguments: list[str], out: Path, timeout: float) -> dict:
    """Run pytest in a fresh process; the counts come from its JUnit XML report."""
    report = out / f"pytest_{name}.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={report}", *arguments]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}  # this checkout
    start = time.perf_counter()
    try:
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        returncode, tail = result.returncode, (result.stdout + result.stderr)[-3000:]
    except subprocess.TimeoutExpired as error:
        returncode, tail = None, f"timed out after {timeout:.0f} s: {str(error.stdout)[-2000:]}"
    record = {"command": " ".join(command[1:]), "returncode": returncode, "seconds": time.perf_counter() - start}
    if report.exists():
        suite = ElementTree.parse(report).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        record.update({key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")})
        record["failed"] = [
            f"{case.get('classname')}::{case.get('name')}"
            for case in suite.iter("testcase")
            if case.find("failure") is not None or case.find("error") is not None
        ]
    if returncode != 0:
        record["output_tail"] = tail
    print(f"tests {name}: {json.dumps({k: v for k, v in record.items() if k != 'output_tail'})}", flush=True)
    return record


def run_tests(out: Path, smoke: bool) -> dict:
    if smoke:  # the same invocation, on two quick tests
        return {
            "triton": run_pytest(
                "triton", ["tests/test_triton.py", "-k", "forward_kernel_is_bit_identical and zero-5"], out, 120
            )
        }
    # Only the files that hold CUDA tests are collected: the others may import packages (torchvision,
    # tonic, ...) that a bare GPU machine lacks.
    cuda_files = sorted(
        str(path.relative_to(ROOT)) for path in (ROOT / "tests").glob("test_*.py") if CUDA_MARK in path.read_text()
    )
    return {
        "cuda": run_pytest("cuda", [*cuda_files, "-m", "cuda"], out, 240),
        "triton": run_pytest("triton", ["tests/test_triton.py", "tests/test_triton_compile.py"], out, 240),
    }


# --------------------------------------------------------------------------------------------------
# 2. Layer benchmark
# --------------------------------------------------------------------------------------------------


def norse_variant(n: int, device: torch.device):
    """Norse's LIF (current-based, like SynapticSequence) with the same per-step decays: dt / tau = 1 - decay."""
    import norse.torch as norse

    dt = 1e-3
    parameters = norse.LIFParameters(
        tau_syn_inv=torch.as_tensor(1 / 3 / dt),
        tau_mem_inv=torch.as_tensor((1 - BETA) / dt),
        v_th=torch.as_tensor(THRESHOLD),
    )
    linear = nn.Linear(n, n).to(device)
    lif = norse.LIF(p=parameters, dt=dt).to(device)

    def run(x):
        return lif(linear(x))[0]

    return run, [linear]


def layer_variants(n: int, device: torch.device) -> dict:
    from snntorch import surrogate

    from snntorch_tssl import rules, tssl

    found = {
        "nn.Linear alone (no neuron)": lambda: linear_alone(n, device),
        "SynapticSequence + tssl (triton)": lambda: sequence_variant(n, tssl(), device, "triton"),
        "SynapticSequence + tssl (torch)": lambda: sequence_variant(n, tssl(), device, "torch"),
        "SynapticSequence + atan (triton)": lambda: sequence_variant(n, rules.get("atan"), device, "triton"),
        "snn.Leaky + atan (Linear per step)": lambda: stock_leaky_variant(n, surrogate.atan(), device, True),
        "snn.Leaky + tssl (Linear per step)": lambda: stock_leaky_variant(n, tssl(), device, True),
    }
    if importlib.util.find_spec("norse") is not None:
        found["Norse LIF"] = lambda: norse_variant(n, device)
    return found


def layer_step(run, params, x):
    def step():
        for module in params:
            for parameter in module.parameters():
                parameter.grad = None
        out = run(x)
        return lambda: out.sum().backward()

    return step


def spikingjelly_generation() -> int | None:
    """2 for SpikingJelly 2 (implementation chosen by an environment variable), 0 for 0.0.0.0.x (a
    ``backend`` argument), None if it does not import."""
    try:
        from spikingjelly.activation_based import neuron
    except Exception:  # noqa: BLE001 - not installed, or broken: the variant is skipped
        return None
    return 0 if "backend" in inspect.signature(neuron.LIFNode).parameters else 2


def spikingjelly_worker(args) -> None:
    """Measure SpikingJelly's multi-step LIF in this process (one implementation), print one JSON record."""
    from spikingjelly.activation_based import functional, neuron

    device = torch.device(args.device)
    implementation = args.spikingjelly_worker
    options = {"backend": implementation} if spikingjelly_generation() == 0 else {}
    records = []
    for n in args.sizes:
        linear = nn.Linear(n, n).to(device)
        lif = neuron.LIFNode(
            tau=1.0 / (1.0 - BETA), decay_input=False, v_threshold=THRESHOLD, v_reset=0.0, step_mode="m", **options
        ).to(device)

        def run(x, lif=lif, linear=linear):
            functional.reset_net(lif)
            return lif(linear(x))

        x = make_input(args.steps, args.batch, n, device)
        record = measure(layer_step(run, [linear], x), device, args.repeats, args.warmup)
        record.update(n=n, variant=f"SpikingJelly {package_version('spikingjelly')} LIFNode ({implementation})")
        records.append(record)
    print(json.dumps(records))


def spikingjelly_runs(args, sizes: list[int], deadline: float) -> tuple[list[dict], list[str]]:
    """Each SpikingJelly implementation in its own process (SpikingJelly 2 picks it when it is imported)."""
    paths = [None, *args.spikingjelly_path]
    runs, notes = [], []
    for path in paths:
        env = dict(os.environ)
        if path is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(path), env.get("PYTHONPATH", "")])
        probe = subprocess.run(
            [sys.executable, __file__, "--probe-spikingjelly"], env=env, capture_output=True, text=True, timeout=120
        )
        generation = json.loads(probe.stdout.strip().splitlines()[-1]) if probe.returncode == 0 else None
        if generation is None:
            notes.append(f"SpikingJelly{'' if path is None else ' at ' + str(path)}: does not import, skipped")
            continue
        implementations = SPIKINGJELLY_IMPLEMENTATIONS[generation]
        for implementation in implementations if args.device.startswith("cuda") else implementations[:1]:
            if time.monotonic() > deadline:
                notes.append(f"SpikingJelly {implementation}: skipped, out of time")
                continue
            worker_env = {**env, ENVIRONMENT_VARIABLE_OF_SPIKINGJELLY: implementation} if generation == 2 else env
            command = [sys.executable, __file__, "--spikingjelly-worker", implementation, "--device", args.device]
            command += ["--steps", str(args.steps), "--batch", str(args.batch), "--repeats", str(args.repeats)]
            command += ["--warmup", str(args.warmup), "--sizes", *map(str, sizes)]
            result = subprocess.run(command, env=worker_env, capture_output=True, text=True, timeout=300)
            if result.returncode != 0:
                last = (result.stderr.strip().splitlines() or ["(no message)"])[-1]
                notes.append(f"SpikingJelly {implementation}: failed ({last[:200]})")
                continue
            for record in json.loads(result.stdout.strip().splitlines()[-1]):
                record["spikingjelly"] = {"generation": generation, "path": None if path is None else str(path)}
                runs.append(record)
    return runs, notes


def layer_benchmark(args, device: torch.device, sizes: list[int], deadline: float) -> dict:
    runs, notes = [], []
    for n in sizes:
        if time.monotonic() > deadline:
            notes.append(f"n={n}: skipped, out of time (--budget)")
            continue
        x = make_input(args.steps, args.batch, n, device)
        built, steps = {}, {}
        for name, build in layer_variants(n, device).items():
            try:
                torch.manual_seed(0)
                built[name] = build()
            except (ImportError, RuntimeError, ValueError) as error:
                notes.append(f"{name} at n={n}: not built ({str(error).splitlines()[0][:200]})")
                continue
            steps[name] = layer_step(*built[name], x)
        skip = (RuntimeError, TypeError, ValueError, NotImplementedError, torch.cuda.OutOfMemoryError)
        for name, record in measure_round_robin(steps, device, args.repeats, args.warmup, skip).items():
            with torch.no_grad():
                out = built[name][0](x)
                record["firing_rate"] = None if name.startswith("nn.Linear") else out.float().mean().item()
            record.update(n=n, variant=name)
            runs.append(record)
            print(
                f"n={n:6d} {name:40s} total {record['total_s']:.4f}s peak {fmt_bytes(record['peak_bytes'])}", flush=True
            )
        del built, steps, x
    sj_runs, sj_notes = spikingjelly_runs(args, sizes, deadline)
    for record in sj_runs:
        print(f"n={record['n']:6d} {record['variant']:40s} total {record['total_s']:.4f}s", flush=True)
    return {"runs": runs + sj_runs, "notes": notes + sj_notes, "ratios": layer_ratios(runs + sj_runs)}


def layer_ratios(runs: list[dict]) -> dict:
    """Time of SynapticSequence + tssl (triton) over each variant, per n (below 1: ours is faster)."""
    ours = "SynapticSequence + tssl (triton)"
    ratios = {}
    for n in sorted({run["n"] for run in runs}):
        by_name = {run["variant"]: run for run in runs if run["n"] == n}
        if ours in by_name:
            ratios[str(n)] = {
                name: by_name[ours]["total_s"] / run["total_s"] for name, run in by_name.items() if name != ours
            }
    return ratios


# --------------------------------------------------------------------------------------------------
# 3. Training throughput
# --------------------------------------------------------------------------------------------------


def training_throughput(args, device: torch.device, smoke: bool) -> list[dict]:
    import snntorch_tssl.functional as TF
    from snntorch_tssl import rules
    from snntorch_tssl.experiments import get_preset
    from snntorch_tssl.experiments.models import build_model

    preset = get_preset("mnist-cnn")
    batch = 4 if smoke else preset.batch_size
    generator = torch.Generator().manual_seed(0)
    x = torch.rand((preset.steps, batch, 1, 28, 28), generator=generator).to(device)
    labels = torch.randint(0, 10, (batch,), generator=generator).to(device)
    loss_fn = TF.van_rossum_loss(tau=preset.tau_s)
    steps = {}
    for name in TRAINING_RULES:
        torch.manual_seed(0)
        net = build_model(
            preset.architecture,
            (1, 28, 28),
            tau_s=preset.tau_s,
            tau_m=preset.tau_m,
            spike_grad=lambda n=name: rules.get(n),
        ).to(device)
        optimizer = torch.optim.AdamW(net.parameters(), lr=preset.lr, weight_decay=preset.weight_decay)

        def step(net=net, optimizer=optimizer):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(x), labels)

            def backward():
                loss.backward()
                optimizer.step()

            return backward

        steps[name] = step
    records = []
    for name, record in measure_round_robin(steps, device, args.repeats, args.warmup).items():
        record.update(rule=name, preset=preset.name, steps=preset.steps, batch=batch)
        record["samples_per_s"] = batch / record["total_s"]
        records.append(record)
        print(f"mnist-cnn T={preset.steps} {name:18s} {record['samples_per_s']:.1f} samples/s", flush=True)
    return records


# --------------------------------------------------------------------------------------------------


def plot(results: dict, path: Path) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    runs = results["layer"]["runs"]
    for name in dict.fromkeys(run["variant"] for run in runs):
        mine = sorted((run for run in runs if run["variant"] == name), key=lambda run: run["n"])
        axes[0].plot([run["n"] for run in mine], [run["total_s"] for run in mine], marker="o", label=name)
    axes[0].set_xscale("log", base=2)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("n (Linear(n, n) + LIF)")
    axes[0].set_ylabel("forward + backward (s, median)")
    axes[0].grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=7)
    training = results["training"]
    axes[1].bar([record["rule"] for record in training], [record["samples_per_s"] for record in training])
    axes[1].set_ylabel("training samples/s (mnist-cnn, T = 5)")
    setup = results["setup"]
    device = results["environment"].get("gpu") or results["environment"]["device"]
    fig.suptitle(f"T={setup['steps']}, batch {setup['batch']}, {device}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu_results"))
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny sizes: checks that the script runs")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sizes", type=int, nargs="+", default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--budget", type=float, default=420.0, help="seconds after which optional parts are skipped")
    parser.add_argument(
        "--spikingjelly-path",
        type=Path,
        action="append",
        default=[],
        help="a folder with another SpikingJelly (pip install --target), e.g. 0.0.0.0.14 for its cupy backend",
    )
    parser.add_argument("--spikingjelly-worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--probe-spikingjelly", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe_spikingjelly:
        print(json.dumps(spikingjelly_generation()))
        return
    if args.smoke:
        args.device, args.repeats, args.warmup = "cpu", 1, 1
    args.steps = args.steps or (SMOKE_STEPS if args.smoke else STEPS)
    args.batch = args.batch or (SMOKE_BATCH if args.smoke else BATCH)
    sizes = args.sizes or (SMOKE_SIZES if args.smoke else SIZES)
    args.sizes = sizes
    if args.spikingjelly_worker:
        spikingjelly_worker(args)
        return
    device = torch.device(args.device)
    if device.type != "cuda" and not args.smoke:
        parser.error("a GPU check needs a CUDA device (use --smoke for the CPU run of the same code)")
    start = time.monotonic()
    deadline = start + args.budget
    args.out.mkdir(parents=True, exist_ok=True)
    results = {
        "setup": {key: str(value) if isinstance(value, Path) else value for key, value in vars(args).items()},
        "environment": environment(device)
        | {name: package_version(name) for name in ("triton", "norse", "cupy", "snntorch-tssl")},
        "measured_on_gpu": device.type == "cuda",
    }
    results["setup"]["spikingjelly_path"] = [str(path) for path in args.spikingjelly_path]
    results["tests"] = {} if args.skip_tests else run_tests(args.out, args.smoke)
    results["layer"] = layer_benchmark(args, device, sizes, deadline)
    results["training"] = training_throughput(args, device, args.smoke)
    results["seconds"] = time.monotonic() - start
    save_results(results, args.out / "gpu_check", plot)
    failed = [name for name, record in results["tests"].items() if record["returncode"] != 0]
    print(f"done in {results['seconds']:.0f} s" + (f"; tests FAILED: {failed}" if failed else ""))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
