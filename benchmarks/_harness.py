"""Shared timing and memory helpers of the benchmark scripts (not part of the package).

Every script compares its variants in one process, interleaved round by round
(:func:`measure_round_robin`): one warm-up round, then ``repeats`` rounds; the
median is reported. Peak memory is
measured two ways: the bytes autograd saves for the backward (exact,
deduplicated by storage; the activation memory of training) and, on CPU, the
growth of the process's peak resident set during a run (Linux, reset through
``/proc/self/clear_refs``); on CUDA, ``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # benchmark the checkout, not an installed copy


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _rss_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


class SavedBytes:
    """Context manager: total bytes of the distinct storages autograd saves for the backward."""

    def __init__(self) -> None:
        self.storages: dict[int, int] = {}

    def _pack(self, tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        self.storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    def __enter__(self) -> SavedBytes:
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda tensor: tensor)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._hooks.__exit__(*exc)

    @property
    def total(self) -> int:
        return sum(self.storages.values())


def measure(
    step: Callable[[], Callable[[], None]],
    device: torch.device,
    repeats: int,
    warmup: int = 1,
) -> dict:
    """Time ``step`` (forward, returns the backward closure) and its backward; medians over ``repeats``.

    :return: forward/backward/total medians and minima in seconds, every sample,
        saved-for-backward bytes and peak memory growth in bytes.
    """
    forward, backward, total = [], [], []
    saved = peak = None
    for run in range(warmup + repeats):
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
        else:
            _reset_peak_rss()
            base = _rss_kib("VmRSS")
        synchronize(device)
        start = time.perf_counter()
        with SavedBytes() as saved_now:
            run_backward = step()
        synchronize(device)
        middle = time.perf_counter()
        run_backward()
        synchronize(device)
        end = time.perf_counter()
        if device.type == "cuda":
            peak_now = torch.cuda.max_memory_allocated(device) - base
        else:
            high = _rss_kib("VmHWM")
            peak_now = None if high is None or base is None else (high - base) * 1024
        del run_backward
        if run >= warmup:
            forward.append(middle - start)
            backward.append(end - middle)
            total.append(end - start)
            saved = saved_now.total
            peak = peak_now if peak is None or peak_now is None else max(peak, peak_now)
    return {
        "forward_s": statistics.median(forward),
        "backward_s": statistics.median(backward),
        "total_s": statistics.median(total),
        "forward_min_s": min(forward),
        "backward_min_s": min(backward),
        "total_min_s": min(total),
        "forward_samples": forward,
        "backward_samples": backward,
        "saved_bytes": saved,
        "peak_bytes": peak,
    }


def measure_round_robin(
    steps: dict,
    device: torch.device,
    repeats: int,
    warmup: int = 1,
    skip_errors: tuple[type[BaseException], ...] = (),
) -> dict:
    """:func:`measure` for several variants at once, interleaved: every round runs each variant once.

    On a shared machine the load drifts over seconds; interleaving makes the drift hit all variants
    alike instead of biasing the ones measured last, so the ratios between variants stay fair.
    A variant that raises one of ``skip_errors`` is dropped with a note.

    :param steps: ``{key: step}``, each ``step`` as for :func:`measure`
    :return: ``{key: record}`` with :func:`measure`'s fields (``*_samples`` for each part)
    """
    samples: dict = {key: [] for key in steps}
    for round_ in range(warmup + repeats):
        for key, step in steps.items():
            if samples.get(key) is None:
                continue
            try:
                sample = measure(step, device, repeats=1, warmup=0)
            except skip_errors as error:
                print(f"note: {key}: skipped ({str(error).splitlines()[0][:120]})", flush=True)
                samples[key] = None
                continue
            if round_ >= warmup:
                samples[key].append(sample)
    records = {}
    for key, runs in samples.items():
        if not runs:
            continue
        peaks = [run["peak_bytes"] for run in runs if run["peak_bytes"] is not None]
        record = {"saved_bytes": runs[-1]["saved_bytes"], "peak_bytes": max(peaks) if peaks else None}
        for part in ("forward", "backward", "total"):
            values = [run[f"{part}_s"] for run in runs]
            record.update({f"{part}_s": statistics.median(values), f"{part}_min_s": min(values)})
            record[f"{part}_samples"] = values
        records[key] = record
    return records


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (the scripts write PNGs, they never show a window)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def environment(device: torch.device) -> dict:
    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    for name in ("snntorch", "spikingjelly"):
        try:
            from importlib.metadata import version

            info[name] = version(name)
        except Exception:  # noqa: BLE001 - optional packages
            info[name] = None
    return info


def save_results(results: dict, stem: Path, plot: Callable[[dict, Path], None]) -> None:
    """Write ``results`` to ``stem``.json and draw them with ``plot`` into ``stem``.png."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(results, indent=2))
    plot(results, stem.with_suffix(".png"))
    print(f"wrote {stem}.json and {stem}.png")


def fmt_bytes(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:.1f} MiB"


def add_repeat_arguments(parser, repeats: int, warmup: int) -> None:
    """``--repeats``, ``--warmup`` and ``--threads``, the options every benchmark script shares."""
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--warmup", type=int, default=warmup)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")


def apply_threads(args) -> None:
    """Set torch's intra-op thread count when ``--threads`` was given."""
    if args.threads:
        torch.set_num_threads(args.threads)
