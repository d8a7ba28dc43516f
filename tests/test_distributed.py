"""DDP (gloo, CPU): two processes equal one process on the same global batch; a killed worker
gives an error, not a hang.

Two workers (tests/ddp_worker.py, subprocesses) train 4 AdamW steps, each on
half of every global batch, and rank 0 saves the weights; then rank 1 stalls,
the test kills it with SIGKILL, and rank 0, waiting in an all-reduce, must
exit with an error. Every wait has a timeout (and the process group's own is
30 s), so nothing here can hang the suite.

The model is float64, so the only difference between 1 and 2 processes is the
summation order of the gradient all-reduce: stated tolerance 1e-10 (absolute,
on weights of order 1); measured max difference 5.6e-17. After the kill,
rank 0 fails in about 3 s with gloo's "RuntimeError: ... Connection reset by
peer".
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


def read_line(process: subprocess.Popen, expected: str, deadline: float) -> None:
    line = ""
    while expected not in line:
        assert time.monotonic() < deadline, f"no {expected!r} before the deadline"
        line = process.stdout.readline()
        assert line or process.poll() is None, process.stderr.read()[-3000:]


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("ddp")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env["OMP_NUM_THREADS"] = "1"
    command = [sys.executable, str(WORKER), "RANK", "2", str(tmp / "rendezvous"), str(tmp / "ddp.pt")]
    workers = [
        subprocess.Popen(
            [str(rank) if arg == "RANK" else arg for arg in command],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    try:
        deadline = time.monotonic() + 240
        for rank, worker in enumerate(workers):
            read_line(worker, f"rank {rank} trained", deadline)
        workers[1].send_signal(signal.SIGKILL)
        start = time.monotonic()
        _, err = workers[0].communicate(timeout=120)
        waited = time.monotonic() - start
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
            worker.communicate(timeout=30)
    return {
        "weights": torch.load(tmp / "ddp.pt", weights_only=True),
        "rc": workers[0].returncode,
        "err": err,
        "waited": waited,
    }


def test_two_gloo_processes_match_one_process(ddp_run):
    single = build_model()
    initial = single.state_dict()["0.weight"].clone()
    train(single, STEPS)
    assert not torch.equal(single.state_dict()["0.weight"], initial)
    for name, value in single.state_dict().items():
        torch.testing.assert_close(ddp_run["weights"][name], value, rtol=0, atol=1e-10)


def test_killed_worker_gives_an_error_not_a_hang(ddp_run):
    assert ddp_run["rc"] != 0
    assert "RuntimeError" in ddp_run["err"], ddp_run["err"][-3000:]
    assert ddp_run["waited"] < 120
