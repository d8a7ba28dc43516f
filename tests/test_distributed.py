"""DDP (gloo, CPU): two processes equal one process on the same global batch; a killed worker
gives an error, not a hang.

Workers run as subprocesses (tests/ddp_worker.py) and every wait has a timeout,
so no test here can hang the suite. The model is float64, so the only
difference between 1 and 2 processes is the summation order of the gradient
all-reduce: stated tolerance 1e-10 (absolute, on weights of order 1) after
4 AdamW steps; measured max difference 5.6e-17. Killing a stalled worker with
SIGKILL makes the other fail in about 3 s with gloo's "RuntimeError: ...
Connection reset by peer" (the process group timeout, 30 s, bounds it too).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from ddp_worker import STEPS, build_model, train

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not torch.distributed.is_available(), reason="torch.distributed unavailable"),
]

WORKER = Path(__file__).with_name("ddp_worker.py")
ROOT = Path(__file__).resolve().parents[1]


def start_workers(tmp_path: Path, mode: str) -> list[subprocess.Popen]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env["OMP_NUM_THREADS"] = "1"
    init_file = tmp_path / "rendezvous"
    return [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(rank), "2", str(init_file), str(tmp_path / "ddp.pt"), mode],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]


def stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


def test_two_gloo_processes_match_one_process(tmp_path):
    workers = start_workers(tmp_path, "train")
    try:
        outputs = [w.communicate(timeout=240) for w in workers]
    finally:
        stop(workers)
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err[-3000:]

    distributed = torch.load(tmp_path / "ddp.pt", weights_only=True)
    single = build_model()
    initial = {k: v.clone() for k, v in single.state_dict().items()}
    train(single, STEPS)
    for name, value in single.state_dict().items():
        torch.testing.assert_close(distributed[name], value, rtol=0, atol=1e-10)
    assert not torch.equal(single.state_dict()["0.weight"], initial["0.weight"])


def test_killed_worker_gives_an_error_not_a_hang(tmp_path):
    workers = start_workers(tmp_path, "stall")
    try:
        deadline = time.monotonic() + 180
        line = ""
        while "rank 1 step 0" not in line:  # rank 1 has finished a step and is now stalled
            assert time.monotonic() < deadline, "workers did not start"
            line = workers[1].stdout.readline()
            assert line or workers[1].poll() is None, workers[1].stderr.read()[-3000:]
        workers[1].send_signal(signal.SIGKILL)
        start = time.monotonic()
        _, err = workers[0].communicate(timeout=120)
        waited = time.monotonic() - start
    finally:
        stop(workers)
    assert workers[0].returncode != 0
    assert "RuntimeError" in err, err[-3000:]
    assert waited < 120
