"""Losses and read-out: golden reproduction, properties of the distance, training to a spike sequence, input checks."""

import pickle

import pytest
import snntorch.functional as SF
import torch
from conftest import DATA, time_first
from hypothesis import given, settings
from hypothesis import strategies as st

import snntorch_tssl.functional as TF
from snntorch_tssl import _math

# ---------------------------------------------------------------- golden vectors


def transpose_inverse(grad_spikes: torch.Tensor, tau: float) -> torch.Tensor:
    """Invert the transposed PSC filter: g_a[t] = tau g_x[t] - (tau - 1) g_x[t+1] (exact)."""
    shifted = torch.cat([grad_spikes[1:], torch.zeros_like(grad_spikes[:1])])
    return tau * grad_spikes - (tau - 1.0) * shifted


def relative_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    return ((actual - expected).abs().max() / expected.abs().max()).item()


@pytest.mark.parametrize(
    "name,make_loss",
    [
        ("stack_vanrossum_T5", lambda g: TF.van_rossum_loss(tau=g["tau_s"], pattern="tssl", reduction="sum")),
        ("stack_vanrossum_T10", lambda g: TF.van_rossum_loss(tau=g["tau_s"], pattern="tssl", reduction="sum")),
        ("stack_count_T30", lambda g: TF.count_loss(desired=15, undesired=3, tau=g["tau_s"], reduction="sum")),
    ],
)
def test_losses_reproduce_golden_loss_and_gradient(name, make_loss):
    golden = torch.load(DATA / f"{name}.pt", weights_only=True)
    spikes = time_first(golden["out_spikes"]).double().requires_grad_()
    loss = make_loss(golden)(spikes, golden["labels"])
    assert abs(loss.item() / golden["loss"].item() - 1) < 1e-5
    (grad_spikes,) = torch.autograd.grad(loss, spikes)
    # The loss takes the spikes; its gradient w.r.t. them is the transposed filter of dL/d out_psc ...
    grad_psc = time_first(golden["grad_out_psc"]).double()
    assert relative_error(grad_spikes, _math.psc_filter_transpose(grad_psc, golden["tau_s"])) < 1e-5
    # ... and undoing that (exact) transpose gives dL/d out_psc itself.
    assert relative_error(transpose_inverse(grad_spikes, golden["tau_s"]), grad_psc) < 1e-5


def test_loss_gradient_drives_the_golden_stack_to_the_golden_weight_gradients():
    from test_synaptic_sequence import paper_stack

    golden = torch.load(DATA / "stack_vanrossum_T10.pt", weights_only=True)
    net = paper_stack(golden)
    x = golden["x"].expand(golden["n_steps"], *golden["x"].shape)
    TF.van_rossum_loss(tau=golden["tau_s"], reduction="sum")(net(x), golden["labels"]).backward()
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    for linear, expected in zip(linears, golden["grads"], strict=True):
        assert relative_error(linear.weight.grad, expected) < 1e-5


# ---------------------------------------------------------------- properties of the distance

binary_trains = st.integers(0, 2**31 - 1).map(
    lambda seed: torch.randint(0, 2, (2, 7, 3, 4), generator=torch.Generator().manual_seed(seed)).double()
)
taus = st.floats(1.0, 10.0)


@settings(max_examples=60, deadline=None)
@given(trains=binary_trains, tau=taus)
def test_distance_is_zero_only_for_identical_trains_and_symmetric(trains, tau):
    out, target = trains
    loss_fn = TF.van_rossum_loss(tau=tau, reduction="none")
    distance = loss_fn(out, target)
    assert torch.equal(distance, loss_fn(target, out))
    identical = (out == target).all(dim=0).all(dim=-1)  # per sample
    assert torch.equal(distance == 0, identical)
    assert (loss_fn(out, out) == 0).all()


@settings(max_examples=60, deadline=None)
@given(num_steps=st.integers(2, 30), data=st.data(), tau=st.floats(2.0, 10.0))
def test_distance_grows_as_a_spike_moves_away_earlier(num_steps, data, tau):
    # A spike near the window's end is filtered over fewer steps (it weighs less), so the
    # monotone direction in a finite window is moving the output spike earlier than the target's.
    # (tau >= 2 keeps each step's increase, ~ (1 - 1/tau)^shift, above float64 resolution for T <= 30.)
    target_time = data.draw(st.integers(1, num_steps - 1))
    target = torch.zeros(num_steps, 1, 1, dtype=torch.float64)
    target[target_time] = 1
    distances = []
    for time in range(target_time, -1, -1):
        out = torch.zeros_like(target)
        out[time] = 1
        distances.append(TF.van_rossum_loss(tau=tau)(out, target).item())
    assert distances[0] == 0
    assert all(nearer < farther for nearer, farther in zip(distances[:-1], distances[1:], strict=True))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), batch=st.integers(1, 6))
def test_mean_is_sum_over_batch(seed, batch):
    gen = torch.Generator().manual_seed(seed)
    out = torch.rand(6, batch, 5, generator=gen, dtype=torch.float64)  # graded outputs work too
    labels = torch.randint(0, 5, (batch,), generator=gen)
    for loss_cls in (TF.van_rossum_loss, TF.count_loss):
        total = loss_cls(reduction="sum")(out, labels)
        per_sample = loss_cls(reduction="none")(out, labels)
        torch.testing.assert_close(loss_cls(reduction="mean")(out, labels), total / batch, rtol=1e-12, atol=0)
        torch.testing.assert_close(per_sample.sum(), total, rtol=1e-12, atol=0)


def test_labels_and_their_spike_trains_give_the_same_loss():
    out = torch.rand(10, 4, 3)
    labels = torch.tensor([0, 2, 1, 2])
    from snntorch_tssl.spikegen import targets_spike_sequence

    trains = targets_spike_sequence(labels, 3, 10, "regular", num_spikes=3)
    loss_fn = TF.van_rossum_loss(pattern="regular", num_spikes=3)
    assert torch.equal(loss_fn(out, labels), loss_fn(out, trains))
    assert torch.equal(loss_fn(out, labels), loss_fn(out, trains.bool()))


def test_count_loss_is_one_sided():
    out = torch.zeros(10, 2, 2)
    out[:, 0, 0] = 1  # label neuron 0 fires every step: too many is fine
    out[:, 1, 1] = 1  # non-label neuron 1 of sample 1 fires every step: penalised
    loss = TF.count_loss(desired=2, undesired=1, tau=1.0, reduction="none")(out, torch.tensor([0, 0]))
    # sample 0: neuron 1 silent (fewer than undesired: fine); sample 1: label silent (2 too few), neuron 1 9 too many
    torch.testing.assert_close(loss, torch.tensor([0.0, 0.5 * 10 * ((2 / 10) ** 2 + (9 / 10) ** 2)]))


def test_losses_pickle_and_repr():
    loss_fn = pickle.loads(pickle.dumps(TF.van_rossum_loss(tau=4.0, reduction="sum")))
    assert loss_fn.tau == 4.0 and "van_rossum_loss" in repr(loss_fn)


# ---------------------------------------------------------------- temporal spike sequence learning


def test_tssl_learns_an_arbitrary_spike_sequence_exactly():
    # Toy problem: input neuron i fires once, at step i; the two outputs must emit
    # irregular sequences (not a class pattern). TSSL-BP creates missing spikes only through
    # its warm-up term, so reaching the sequence exactly depends on the start: this seed
    # gets there in under 100 plain SGD steps.
    from torch import nn

    from snntorch_tssl import SynapticSequence, tssl

    steps = 12
    x = torch.eye(steps)[:, None, :]  # [T, B=1, F=T]
    target = torch.zeros(steps, 1, 2)
    target[[1, 6, 10], 0, 0] = 1
    target[[3, 8], 0, 1] = 1
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(steps, 2, bias=False), SynapticSequence(tau_s=3.0, tau_m=5.0, spike_grad=tssl()))
    optimizer = torch.optim.SGD(net.parameters(), lr=1.0)
    loss_fn = TF.van_rossum_loss(tau=3.0, reduction="sum")
    for _ in range(300):
        out = net(x)
        if torch.equal(out, target):
            break
        optimizer.zero_grad()
        loss_fn(out, target).backward()
        optimizer.step()
    assert torch.equal(net(x), target)
    assert loss_fn(net(x), target).item() == 0


# ---------------------------------------------------------------- accuracy


@pytest.mark.parametrize("dtype", [torch.int32, torch.int16, torch.int8, torch.uint8])
def test_every_integer_label_dtype_gives_the_int64_result(dtype):
    """Datasets hand out int32 or uint8 labels: the losses and the read-out take them like int64."""
    torch.manual_seed(0)
    spk = torch.rand(5, 4, 3).requires_grad_()
    labels = torch.tensor([0, 2, 1, 2])
    for make in (lambda: TF.van_rossum_loss(tau=3.0), lambda: TF.count_loss(desired=3, undesired=1, tau=3.0)):
        expected = torch.autograd.grad(make()(spk, labels), spk)[0]
        assert torch.equal(torch.autograd.grad(make()(spk, labels.to(dtype)), spk)[0], expected)
    assert torch.equal(TF.accuracy_psc(spk, labels.to(dtype)), TF.accuracy_psc(spk, labels))


def test_accuracy_psc_is_a_tensor_on_the_device_of_the_output():
    """The read-out does not read the result on the host: a 0-dim tensor, converted when the caller asks."""
    acc = TF.accuracy_psc(torch.zeros(5, 2, 3), torch.tensor([0, 1]))
    assert isinstance(acc, torch.Tensor) and acc.dim() == 0 and acc.dtype == torch.float32
    assert float(acc) == 0.5 and f"{acc:.2f}" == "0.50"
    meta = TF.accuracy_psc(torch.zeros(5, 2, 3, device="meta"), torch.tensor([0, 1], device="meta"))
    assert meta.device.type == "meta" and meta.dim() == 0


def test_accuracy_psc_weighs_early_spikes_more_than_accuracy_rate():
    spk = torch.zeros(6, 2, 3)
    spk[0, 0, 1] = 1  # one early spike on neuron 1: weight 1 - (2/3)^6 = 0.91
    spk[[4, 5], 0, 2] = 1  # two late spikes on neuron 2, more spikes but less PSC: 0.56 + 0.33
    spk[[1, 2], 1, 0] = 1
    labels = torch.tensor([1, 0])
    assert TF.accuracy_psc(spk, labels, tau=3.0) == 1.0
    assert SF.accuracy_rate(spk, labels) == 0.5
    assert TF.accuracy_psc(spk, labels, tau=1.0) == 0.5  # tau = 1: the plain count


# ---------------------------------------------------------------- bad inputs

OUT = torch.zeros(5, 2, 3)


@pytest.mark.parametrize(
    "call,error,match",
    [
        (lambda: TF.van_rossum_loss()(OUT, torch.tensor([0, 3])), ValueError, "targets must lie in"),
        (lambda: TF.count_loss()(OUT, torch.tensor([-1, 0])), ValueError, "targets must lie in"),
        (lambda: TF.accuracy_psc(OUT, torch.tensor([0, 5])), ValueError, "targets must lie in"),
        (lambda: TF.van_rossum_loss()(OUT, torch.tensor([0, 1, 2])), ValueError, "targets must hold B=2"),
        (lambda: TF.van_rossum_loss()(OUT, torch.zeros(4, 2, 3)), ValueError, "same T"),
        (lambda: TF.van_rossum_loss()(OUT, torch.zeros(5, 3, 3)), ValueError, "same B"),
        (lambda: TF.van_rossum_loss()(OUT, torch.zeros(5, 2, 4)), ValueError, "same C"),
        (lambda: TF.van_rossum_loss()(OUT, torch.zeros(5, 2)), ValueError, "labels .B. or spike trains"),
        (lambda: TF.van_rossum_loss()(OUT, [0, 1]), TypeError, "targets must be a torch.Tensor"),
        (lambda: TF.van_rossum_loss()(OUT, torch.tensor([0.0, 1.0])), TypeError, "integer dtype"),
        (lambda: TF.van_rossum_loss(tau=0.0), ValueError, "tau must be a finite number > 0"),
        (lambda: TF.count_loss(tau=-1.0), ValueError, "tau must be a finite number > 0"),
        (lambda: TF.accuracy_psc(OUT, torch.tensor([0, 1]), tau=0), ValueError, "tau must be"),
        (lambda: TF.van_rossum_loss(reduction="avg"), ValueError, "reduction must be one of"),
        (lambda: TF.count_loss(desired=float("nan")), ValueError, "desired must be finite"),
        (lambda: TF.van_rossum_loss()(torch.zeros(5, 0, 3), torch.zeros(0, dtype=torch.long)), ValueError, "empty"),
        (lambda: TF.count_loss()(OUT, torch.zeros(0, dtype=torch.long)), ValueError, "empty batch"),
        (lambda: TF.van_rossum_loss()(torch.zeros(5, 3), torch.tensor([0])), ValueError, "spk_out must have 3"),
        (lambda: TF.van_rossum_loss()(OUT.long(), torch.tensor([0, 1])), TypeError, "spk_out must have a floating"),
        (lambda: TF.van_rossum_loss(pattern=torch.ones(6))(OUT, torch.tensor([0, 1])), ValueError, "longer than"),
        (lambda: TF.van_rossum_loss(pattern="regular")(OUT, torch.tensor([0, 1])), ValueError, "num_spikes"),
        (lambda: TF.count_loss(desired=3, undesired=15), ValueError, "desired must be >= undesired"),
        (lambda: TF.count_loss(desired=-1, undesired=-3), ValueError, "undesired must be a PSC count >= 0"),
        (lambda: TF.count_loss(desired=5, undesired=-1), ValueError, "undesired must be a PSC count >= 0"),
        (lambda: TF.count_loss()(OUT, torch.tensor([0, 255], dtype=torch.uint8)), ValueError, r"got \[0, 255\]"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
