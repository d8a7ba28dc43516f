"""Persistence: pickling, deepcopy, torch.save of every public object, state_dict round-trips,
a checkpoint written by version 0.1.0 (tests/data), and bit-identical training continuation.

Regenerate the stored files (only when their format deliberately changes) with
``PYTHONPATH=. python tests/test_persistence.py``.
"""

from __future__ import annotations

import copy
import io
import pickle

import pytest
import snntorch as snn
import torch
from conftest import DATA
from torch import nn

import snntorch_tssl.functional as TF
from snntorch_tssl import TSSL, FrameWise, SumPool2d, SynapticSequence, tssl

CHECKPOINT = DATA / "checkpoint_v0_1_0.pt"
PICKLED_MODEL = DATA / "model_v0_1_0.pt"


def reference_model() -> nn.Sequential:
    """A tiny CNN using every public class; the architecture of the stored checkpoint."""
    torch.manual_seed(0)
    model = nn.Sequential(
        FrameWise(nn.Conv2d(1, 2, 3, bias=False)),
        SynapticSequence(tau_s=3.0, tau_m=5.0, spike_grad=tssl(tau_s=3.0)),
        FrameWise(SumPool2d(2)),
        FrameWise(nn.Flatten()),
        nn.Linear(8, 3, bias=False),
        SynapticSequence(tau_s=2.0, tau_m=8.0, reset_mechanism="subtract", spike_grad=tssl(tau_s=2.0, warmup=False)),
    )
    with torch.no_grad():  # both layers fire (about 45 % and 25 % of the steps) on the reference input
        nn.init.normal_(model[0].module.weight, 0.0, 0.3)
        nn.init.normal_(model[4].weight, 0.1, 0.3)
    return model


def reference_input() -> torch.Tensor:
    return torch.rand(5, 2, 1, 6, 6, generator=torch.Generator().manual_seed(1)) * 4


def outputs_and_grads(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    model.zero_grad()
    spk = model(x)
    (spk * torch.arange(1.0, spk.shape[-1] + 1)).sum().backward()
    return spk.detach(), [p.grad.clone() for p in model.parameters()]


def assert_same_behaviour(a: nn.Module, b: nn.Module) -> None:
    x = reference_input()
    spk_a, grads_a = outputs_and_grads(a, x)
    spk_b, grads_b = outputs_and_grads(b, x)
    assert spk_a.sum() > 0 and all(g.abs().sum() > 0 for g in grads_a)
    assert torch.equal(spk_a, spk_b)
    assert all(torch.equal(ga, gb) for ga, gb in zip(grads_a, grads_b, strict=True))


PUBLIC_OBJECTS = {
    "tssl": lambda: tssl(tau_s=4.0, max_inv_du=float("inf"), warmup=False, warmup_width=0.3, reset_term=False),
    "TSSL": lambda: TSSL(),
    "SynapticSequence": lambda: SynapticSequence(alpha=0.5, beta=0.9, threshold=0.7, reset_mechanism="none"),
    "FrameWise": lambda: FrameWise(nn.Conv2d(1, 2, 3)),
    "SumPool2d": lambda: SumPool2d(2, scale=1.5),
    "model": reference_model,
    "van_rossum_loss": lambda: TF.van_rossum_loss(tau=4.0, pattern="tssl-paper", reduction="sum"),
    "count_loss": lambda: TF.count_loss(desired=10.0, undesired=2.0, tau=4.0),
}


def roundtrip_torch_save(obj):
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=False)


@pytest.mark.parametrize("name", list(PUBLIC_OBJECTS))
@pytest.mark.parametrize(
    "roundtrip", [lambda o: pickle.loads(pickle.dumps(o)), copy.deepcopy, roundtrip_torch_save], ids=str
)
def test_public_objects_pickle_deepcopy_and_torch_save(name, roundtrip):
    obj = PUBLIC_OBJECTS[name]()
    clone = roundtrip(obj)
    assert type(clone) is type(obj) and repr(clone) == repr(obj)
    if isinstance(obj, TSSL):
        assert clone.options == obj.options
    elif name == "model":
        assert_same_behaviour(obj, clone)
    elif name.endswith("loss"):
        spk_out, labels = torch.rand(5, 2, 3), torch.tensor([2, 0])
        assert torch.equal(clone(spk_out, labels), obj(spk_out, labels))
    else:
        x = torch.rand(3, 2, 1, 4, 4) if name != "SumPool2d" else torch.rand(2, 1, 4, 4)
        assert torch.equal(clone(x), obj(x))


def test_state_dict_round_trip_and_weights_only_load():
    model = reference_model()
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    buffer.seek(0)
    fresh = reference_model()
    for p in fresh.parameters():
        nn.init.zeros_(p)
    fresh.load_state_dict(torch.load(buffer, weights_only=True), strict=True)
    assert_same_behaviour(model, fresh)


def test_loaded_reset_mechanism_wins_like_stock_snntorch():
    source = SynapticSequence(reset_mechanism="subtract")
    target = SynapticSequence(reset_mechanism="zero")
    target.load_state_dict(source.state_dict())
    assert target.reset_mechanism == "subtract"
    x = torch.rand(10, 3, 4) * 4
    assert torch.equal(target(x), source(x))
    stock = snn.Synaptic(alpha=0.5, beta=0.5, reset_mechanism="none")
    target.load_state_dict(stock.state_dict())
    assert target.reset_mechanism == "none"


@pytest.mark.parametrize(
    "edit,error,match",
    [
        (lambda sd: sd.update({"1.reset_mechanism_val": torch.tensor(5)}), ValueError, "1.reset_mechanism_val"),
        (lambda sd: sd.update({"4.weight": torch.zeros(3, 9)}), RuntimeError, "4.weight.*torch.Size"),
        (lambda sd: sd.pop("1.alpha"), RuntimeError, "Missing key.*1.alpha"),
    ],
)
def test_mismatched_checkpoint_fails_with_a_clear_message(edit, error, match):
    state = reference_model().state_dict()
    edit(state)
    with pytest.raises(error, match=match):
        reference_model().load_state_dict(state)


def test_checkpoint_written_by_version_0_1_0_still_loads():
    checkpoint = torch.load(CHECKPOINT, weights_only=True)
    assert checkpoint["snntorch_tssl_version"] == "0.1.0"
    model = reference_model()
    model.load_state_dict(checkpoint["model"], strict=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
    optimizer.load_state_dict(checkpoint["optimizer"])
    spk, grads = outputs_and_grads(model, checkpoint["x"])
    assert checkpoint["spk"].sum() > 0
    assert torch.equal(spk, checkpoint["spk"])
    # The gradients were stored by 0.1.0's rule; since then the subtract reset of the last layer pins
    # the timing term of spikes that crossed before their step and bounds c by 1, so they moved a little.
    for grad, expected in zip(grads, checkpoint["grads"], strict=True):
        assert grad.shape == expected.shape
        assert torch.nn.functional.cosine_similarity(grad.flatten(), expected.flatten(), dim=0) > 0.99
    assert optimizer.state_dict()["state"][0]["step"] == checkpoint["optimizer"]["state"][0]["step"]


def test_model_pickled_by_version_0_1_0_still_loads():
    model = torch.load(PICKLED_MODEL, weights_only=False)
    reference = reference_model()
    reference.load_state_dict(model.state_dict())
    assert_same_behaviour(model, reference)


def train_steps(model: nn.Module, optimizer: torch.optim.Optimizer, steps: int) -> None:
    """The paper's recipe in miniature: AdamW, grad-norm clip 1, weights clamped to [-4, 4]; random data and dropout."""
    for _ in range(steps):
        x = torch.rand(5, 4, 1, 6, 6) * 4
        spk = model(x)
        loss = (spk.sum(0) - torch.rand(4, 3) * 3).pow(2).sum()
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        with torch.no_grad():
            for p in model.parameters():
                p.clamp_(-4, 4)


def training_model() -> nn.Sequential:
    model = reference_model()
    model.insert(4, nn.Dropout(0.2))
    return model


def test_save_and_resume_continues_bit_identically(tmp_path):
    torch.manual_seed(123)
    straight = training_model()
    opt = torch.optim.AdamW(straight.parameters(), lr=5e-2, weight_decay=0.01)
    torch.manual_seed(7)
    train_steps(straight, opt, 6)

    torch.manual_seed(123)
    first = training_model()
    opt_first = torch.optim.AdamW(first.parameters(), lr=5e-2, weight_decay=0.01)
    torch.manual_seed(7)
    train_steps(first, opt_first, 3)
    path = tmp_path / "resume.pt"
    torch.save(
        {"model": first.state_dict(), "optimizer": opt_first.state_dict(), "rng": torch.get_rng_state()},
        path,
    )
    del first, opt_first

    torch.manual_seed(999)  # whatever happens before the resume must not matter
    resumed = training_model()
    opt_resumed = torch.optim.AdamW(resumed.parameters(), lr=5e-2, weight_decay=0.01)
    state = torch.load(path, weights_only=True)
    resumed.load_state_dict(state["model"])
    opt_resumed.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    train_steps(resumed, opt_resumed, 3)

    initial = reference_model().parameters()
    assert any(not torch.equal(a, b) for a, b in zip(straight.parameters(), initial, strict=True))
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    for a, b in zip(opt.state.values(), opt_resumed.state.values(), strict=True):
        assert all(torch.equal(a[k], b[k]) for k in a)


def write_stored_files() -> None:
    """Write tests/data/checkpoint_v0_1_0.pt and model_v0_1_0.pt (run with this package version)."""
    import snntorch_tssl

    model = reference_model()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=0.01)
    torch.manual_seed(3)
    train_steps(model, optimizer, 2)
    x = reference_input()
    spk, grads = outputs_and_grads(model, x)
    torch.save(
        {
            "snntorch_tssl_version": snntorch_tssl.__version__,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "x": x,
            "spk": spk,
            "grads": grads,
        },
        CHECKPOINT,
    )
    torch.save(model, PICKLED_MODEL)


if __name__ == "__main__":
    write_stored_files()
