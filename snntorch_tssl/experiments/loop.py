"""The epoch loop: one pass of training (the paper's recipe) and one of evaluation, with their metrics.

Metrics are summed on the training device and read once per pass (and for
the progress bar, while it is shown, at most as often as it redraws), so a
step makes the host wait for the device only where the caller asks for a
number.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from snntorch_tssl import functional
from snntorch_tssl.experiments.config import TrainConfig
from snntorch_tssl.experiments.distributed import Process, all_reduce
from snntorch_tssl.experiments.models import SpikingNet


def to_sequence(x: Tensor, steps: int) -> Tensor:
    """Time-first input: images ``[B, C, H, W]`` repeated T times; event frames ``[B, T, ...]`` transposed."""
    if x.dim() == 5:
        return x.transpose(0, 1)
    return x.unsqueeze(0).expand(steps, *x.shape)


def seed(value: int, offset: int = 0) -> None:
    """Seed torch's generators for one phase of a run (``offset`` tells the phases and processes apart)."""
    torch.manual_seed(value * 1000 + offset)


def _batches(loader: DataLoader, config: TrainConfig, process: Process, description: str):
    bar = tqdm(loader, desc=description, leave=False, disable=not (config.progress and process.is_main))
    for batch, item in enumerate(bar):
        if config.max_batches is not None and batch >= config.max_batches:
            break
        yield bar, item


def train_epoch(
    model: nn.Module,
    loader: DataLoader,
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    optimizer: torch.optim.Optimizer,
    config: TrainConfig,
    process: Process,
    epoch: int,
) -> dict:
    r"""Train one epoch with the paper's recipe and return its loss, accuracy and sample count.

    Each step: :math:`W \leftarrow \operatorname{clamp}(\operatorname{AdamW}(W, \operatorname{clip}(\nabla_W L)),
    -c, c)` with the preset's clip norm and clamp :math:`c`.
    """
    preset = config.preset
    model.train()
    totals = torch.zeros(2, dtype=torch.float64, device=process.device)  # loss sum, correct
    samples, shown = 0, time.monotonic()
    for bar, (x, y) in _batches(loader, config, process, f"epoch {epoch} train"):
        x, y = x.to(process.device, non_blocking=True), y.to(process.device, non_blocking=True)
        spk = model(to_sequence(x, preset.steps))
        loss = loss_fn(spk, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), preset.clip_norm)
        optimizer.step()
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.clamp_(-preset.weight_clamp, preset.weight_clamp)
            totals[0] += loss.detach()
            totals[1] += functional.accuracy_psc(spk.detach(), y, tau=preset.tau_s).double() * len(y)
        samples += len(y)
        if not bar.disable and time.monotonic() - shown >= bar.mininterval:  # a read waits for the device
            shown = time.monotonic()
            loss_sum, correct = totals.tolist()
            bar.set_postfix(loss=f"{loss_sum / samples:.4f}", acc=f"{correct / samples:.3f}")
    counted = torch.cat([totals.cpu(), torch.tensor([samples], dtype=torch.float64)])
    loss_sum, correct, samples = all_reduce(counted, process).tolist()
    return {"train_loss": loss_sum / max(samples, 1), "train_accuracy": correct / max(samples, 1), "samples": samples}


@torch.no_grad()
def evaluate(model: SpikingNet, loader: DataLoader, config: TrainConfig, process: Process, epoch: int) -> dict:
    """Test accuracy, the fraction of silent units of every spiking layer, and a raster of 4 test samples."""
    preset = config.preset
    model.eval()
    layers = model.spiking_layers()
    counts: dict[str, Tensor] = {}

    def recorder(name: str):
        def hook(_module: nn.Module, _inputs: tuple, output: Tensor) -> None:
            per_unit = output.detach().sum(dim=(0, 1), dtype=torch.float64)
            counts[name] = counts[name] + per_unit if name in counts else per_unit

        return hook

    handles = [module.register_forward_hook(recorder(name)) for name, module in layers]
    correct = torch.zeros((), dtype=torch.float64, device=process.device)
    samples = 0
    raster = None
    try:
        for _bar, (x, y) in _batches(loader, config, process, f"epoch {epoch} test"):
            x, y = x.to(process.device), y.to(process.device)
            spk = model(to_sequence(x, preset.steps))
            correct += functional.accuracy_psc(spk, y, tau=preset.tau_s).double() * len(y)
            samples += len(y)
            if raster is None:
                raster = (spk[:, :4], y[:4])
    finally:
        for handle in handles:
            handle.remove()
    unit_counts = [all_reduce(counts[name], process) for name, _ in layers]
    counted = torch.stack([correct.cpu(), torch.tensor(samples, dtype=torch.float64)])
    correct, samples = all_reduce(counted, process).tolist()
    silent = {f"layer{index + 1}": float((c == 0).double().mean()) for index, c in enumerate(unit_counts)}
    raster = None if raster is None else (raster[0].cpu(), raster[1].cpu())
    return {"test_accuracy": correct / max(samples, 1), "silent_fraction": silent, "raster": raster}
