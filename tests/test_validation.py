"""Input validation audit of the public API.

Every case is one row of the table in docs/validation.md (the test checks the
table lists it). Each error must be a ValueError or TypeError whose message
names the argument, says what was expected and what was received ("got").
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

import snntorch_tssl.functional as TF
from snntorch_tssl import TSSL, FrameWise, SumPool2d, SynapticSequence, SynapticState, rules, stbp, tssl
from snntorch_tssl._math.backend import BACKEND_VARIABLE
from snntorch_tssl.spikegen import targets_spike_sequence

NAN, INF = float("nan"), float("inf")
DOC = Path(__file__).resolve().parents[1] / "docs" / "validation.md"


SPK, LABELS = torch.rand(5, 2, 3), torch.tensor([0, 1])  # spk_out [T, B, C] and labels [B]


X = torch.rand(5, 2, 4)  # a sequence [T, B, F] for SynapticSequence


def with_backend_variable(value: str) -> None:
    """Build a SynapticSequence while SNNTORCH_TSSL_BACKEND is ``value``."""
    previous = os.environ.get(BACKEND_VARIABLE)
    os.environ[BACKEND_VARIABLE] = value
    try:
        SynapticSequence()
    finally:
        if previous is None:
            del os.environ[BACKEND_VARIABLE]
        else:
            os.environ[BACKEND_VARIABLE] = previous


def load_reset(value: torch.Tensor) -> None:
    state = SynapticSequence().state_dict()
    state["reset_mechanism_val"] = value
    SynapticSequence().load_state_dict(state)


# (call as written in docs/validation.md, the call, error type, argument named in the message)
CASES = [
    # tssl() and TSSL: the rule's options
    ("tssl(tau_s=0)", lambda: tssl(tau_s=0), ValueError, "tau_s"),
    ("tssl(tau_s=0.5)", lambda: tssl(tau_s=0.5), ValueError, "tau_s"),
    ("tssl(tau_s=-3.0)", lambda: tssl(tau_s=-3.0), ValueError, "tau_s"),
    ("tssl(tau_s=nan)", lambda: tssl(tau_s=NAN), ValueError, "tau_s"),
    ("tssl(tau_s=inf)", lambda: tssl(tau_s=INF), ValueError, "tau_s"),
    ("tssl(tau_s='3')", lambda: tssl(tau_s="3"), TypeError, "tau_s"),
    ("tssl(tau_s=True)", lambda: tssl(tau_s=True), TypeError, "tau_s"),
    ("tssl(tau_s=torch.ones(2))", lambda: tssl(tau_s=torch.ones(2)), TypeError, "tau_s"),
    ("tssl(max_inv_du=0.0)", lambda: tssl(max_inv_du=0.0), ValueError, "max_inv_du"),
    ("tssl(max_inv_du=None)", lambda: tssl(max_inv_du=None), TypeError, "max_inv_du"),
    ("tssl(warmup=1)", lambda: tssl(warmup=1), TypeError, "warmup"),
    ("tssl(warmup='yes')", lambda: tssl(warmup="yes"), TypeError, "warmup"),
    ("tssl(warmup_width=-0.2)", lambda: tssl(warmup_width=-0.2), ValueError, "warmup_width"),
    ("tssl(warmup_width=inf)", lambda: tssl(warmup_width=INF), ValueError, "warmup_width"),
    ("tssl(reset_term='no')", lambda: tssl(reset_term="no"), TypeError, "reset_term"),
    ("TSSL(tau_s=0.9)", lambda: TSSL(tau_s=0.9), ValueError, "tau_s"),
    # SynapticSequence(...): constructor
    ("SynapticSequence(alpha=1.0)", lambda: SynapticSequence(alpha=1.0), ValueError, "alpha"),
    ("SynapticSequence(alpha=-0.1)", lambda: SynapticSequence(alpha=-0.1), ValueError, "alpha"),
    ("SynapticSequence(alpha=nan)", lambda: SynapticSequence(alpha=NAN), ValueError, "alpha"),
    ("SynapticSequence(alpha='0.5')", lambda: SynapticSequence(alpha="0.5"), TypeError, "alpha"),
    ("SynapticSequence(alpha=torch.ones(2))", lambda: SynapticSequence(alpha=torch.ones(2)), TypeError, "alpha"),
    ("SynapticSequence(beta=1.5)", lambda: SynapticSequence(beta=1.5), ValueError, "beta"),
    ("SynapticSequence(beta=-0.5)", lambda: SynapticSequence(beta=-0.5), ValueError, "beta"),
    ("SynapticSequence(beta=None, tau_m=0)", lambda: SynapticSequence(tau_m=0), ValueError, "tau_m"),
    ("SynapticSequence(tau_s=0.5)", lambda: SynapticSequence(tau_s=0.5), ValueError, "tau_s"),
    ("SynapticSequence(tau_s=inf)", lambda: SynapticSequence(tau_s=INF), ValueError, "tau_s"),
    ("SynapticSequence(tau_m=-5.0)", lambda: SynapticSequence(tau_m=-5.0), ValueError, "tau_m"),
    ("SynapticSequence(tau_m='5')", lambda: SynapticSequence(tau_m="5"), TypeError, "tau_m"),
    ("SynapticSequence(alpha=0.5, tau_s=2.0)", lambda: SynapticSequence(alpha=0.5, tau_s=2.0), ValueError, "alpha"),
    ("SynapticSequence(beta=0.5, tau_m=2.0)", lambda: SynapticSequence(beta=0.5, tau_m=2.0), ValueError, "beta"),
    ("SynapticSequence(threshold=0.0)", lambda: SynapticSequence(threshold=0.0), ValueError, "threshold"),
    ("SynapticSequence(threshold=-1.0)", lambda: SynapticSequence(threshold=-1.0), ValueError, "threshold"),
    ("SynapticSequence(threshold=nan)", lambda: SynapticSequence(threshold=NAN), ValueError, "threshold"),
    ("SynapticSequence(threshold=inf)", lambda: SynapticSequence(threshold=INF), ValueError, "threshold"),
    ("SynapticSequence(threshold='1')", lambda: SynapticSequence(threshold="1"), TypeError, "threshold"),
    ("SynapticSequence(reset_mechanism='hard')", lambda: SynapticSequence(reset_mechanism="hard"), ValueError, "reset"),
    ("SynapticSequence(reset_mechanism=1)", lambda: SynapticSequence(reset_mechanism=1), TypeError, "reset_mechanism"),
    ("SynapticSequence(spike_grad=3)", lambda: SynapticSequence(spike_grad=3), TypeError, "spike_grad"),
    ("SynapticSequence(output='yes')", lambda: SynapticSequence(output="yes"), TypeError, "output"),
    ("SynapticSequence(init_hidden=1)", lambda: SynapticSequence(init_hidden=1), TypeError, "init_hidden"),
    ("SynapticSequence(backend='cuda')", lambda: SynapticSequence(backend="cuda"), ValueError, "backend"),
    (
        "SynapticSequence(backend=None) with SNNTORCH_TSSL_BACKEND=gpu",
        lambda: with_backend_variable("gpu"),
        ValueError,
        "SNNTORCH_TSSL_BACKEND",
    ),  # fmt: skip
    # SynapticSequence()(input_): forward
    ("SynapticSequence()([[1.0]])", lambda: SynapticSequence()([[1.0]]), TypeError, "input_"),
    (
        "SynapticSequence()(torch.ones(5, 2, dtype=torch.int64))",
        lambda: SynapticSequence()(torch.ones(5, 2, dtype=torch.int64)),
        TypeError,
        "input_",
    ),  # noqa: E501
    (
        "SynapticSequence()(torch.ones(5, 2, dtype=torch.bool))",
        lambda: SynapticSequence()(torch.ones(5, 2, dtype=torch.bool)),
        TypeError,
        "input_",
    ),  # noqa: E501
    (
        "SynapticSequence()(torch.ones(5, 2, dtype=torch.complex64))",
        lambda: SynapticSequence()(torch.ones(5, 2, dtype=torch.complex64)),
        TypeError,
        "input_",
    ),  # noqa: E501
    ("SynapticSequence()(torch.rand(5))", lambda: SynapticSequence()(torch.rand(5)), ValueError, "input_"),
    ("SynapticSequence()(torch.rand(0, 2, 3))", lambda: SynapticSequence()(torch.rand(0, 2, 3)), ValueError, "input_"),
    ("SynapticSequence()(torch.rand(4, 8))", lambda: SynapticSequence()(torch.rand(4, 8)), ValueError, "input_"),
    ("SynapticSequence()(x, (syn, mem))", lambda: SynapticSequence()(X, (None, None)), TypeError, "state"),
    (
        "SynapticSequence()(x, SynapticState(mem=torch.zeros(3, 4)))",
        lambda: SynapticSequence()(X, SynapticState(mem=torch.zeros(3, 4))),
        ValueError,
        "state.mem",
    ),  # fmt: skip
    (
        "SynapticSequence(init_hidden=True)(x, state)",
        lambda: SynapticSequence(init_hidden=True)(X, SynapticState()),
        TypeError,
        "state",
    ),  # fmt: skip
    ("SynapticSequence()(x with a NaN)", lambda: SynapticSequence()(torch.tensor([[NAN]])), ValueError, "input_"),
    (
        "SynapticSequence()(x with an inf)",
        lambda: SynapticSequence()(torch.tensor([[1.0], [-INF]])),
        ValueError,
        "input_",
    ),  # noqa: E501
    ("load_state_dict(reset_mechanism_val=5)", lambda: load_reset(torch.tensor(5)), ValueError, "reset_mechanism_val"),
    (
        "load_state_dict(reset_mechanism_val=-1)",
        lambda: load_reset(torch.tensor(-1)),
        ValueError,
        "reset_mechanism_val",
    ),  # noqa: E501
    # Losses, read-out and spike-sequence targets
    ("TF.van_rossum_loss(tau=0.5)", lambda: TF.van_rossum_loss(tau=0.5), ValueError, "tau"),
    ("TF.van_rossum_loss(reduction='avg')", lambda: TF.van_rossum_loss(reduction="avg"), ValueError, "reduction"),
    ("TF.count_loss(desired='15')", lambda: TF.count_loss(desired="15"), TypeError, "desired"),
    ("TF.count_loss(tau=0.5)", lambda: TF.count_loss(tau=0.5), ValueError, "tau"),
    (
        "TF.van_rossum_loss()(torch.rand(5, 4), labels)",
        lambda: TF.van_rossum_loss()(torch.rand(5, 4), LABELS),
        ValueError,
        "spk_out",
    ),  # noqa: E501
    (
        "TF.van_rossum_loss()(spk_out, torch.tensor([0, 7]))",
        lambda: TF.van_rossum_loss()(SPK, torch.tensor([0, 7])),
        ValueError,
        "targets",
    ),  # noqa: E501
    (
        "TF.van_rossum_loss()(spk_out, torch.rand(5, 2, 4))",
        lambda: TF.van_rossum_loss()(SPK, torch.rand(5, 2, 4)),
        ValueError,
        "targets",
    ),  # noqa: E501
    (
        "TF.count_loss()(spk_out, torch.tensor([0.0, 1.0]))",
        lambda: TF.count_loss()(SPK, torch.tensor([0.0, 1.0])),
        TypeError,
        "targets",
    ),  # noqa: E501
    ("TF.accuracy_psc(spk_out, labels, tau=0.5)", lambda: TF.accuracy_psc(SPK, LABELS, tau=0.5), ValueError, "tau"),
    ("TF.count_loss(desired=3, undesired=15)", lambda: TF.count_loss(desired=3, undesired=15), ValueError, "desired"),
    ("TF.count_loss(undesired=-1.0)", lambda: TF.count_loss(undesired=-1.0), ValueError, "undesired"),
    (
        "targets_spike_sequence(labels, 3, num_steps=0)",
        lambda: targets_spike_sequence(LABELS, 3, 0),
        ValueError,
        "num_steps",
    ),  # noqa: E501
    (
        "targets_spike_sequence(labels, 3, 5, pattern='morse')",
        lambda: targets_spike_sequence(LABELS, 3, 5, pattern="morse"),
        ValueError,
        "pattern",
    ),  # noqa: E501
    (
        "targets_spike_sequence(labels, 3, 5, dtype=torch.int64)",
        lambda: targets_spike_sequence(LABELS, 3, 5, dtype=torch.int64),
        TypeError,
        "dtype",
    ),  # noqa: E501
    # FrameWise
    ("FrameWise(lambda x: x)", lambda: FrameWise(lambda x: x), TypeError, "module"),
    ("FrameWise(nn.Flatten())(torch.rand(5))", lambda: FrameWise(nn.Flatten())(torch.rand(5)), ValueError, "x"),
    (
        "FrameWise(nn.Linear(1, 3))(torch.rand(5, 2))",
        lambda: FrameWise(nn.Linear(1, 3))(torch.rand(5, 2)),
        ValueError,
        "x",
    ),
    (
        "FrameWise(nn.Flatten())(torch.ones(5, 2, 3, dtype=torch.int64))",
        lambda: FrameWise(nn.Flatten())(torch.ones(5, 2, 3, dtype=torch.int64)),
        TypeError,
        "x",
    ),  # noqa: E501
    (
        "FrameWise(nn.Flatten())(x with a NaN)",
        lambda: FrameWise(nn.Flatten())(torch.full((2, 2, 3), NAN)),
        ValueError,
        "x",
    ),  # noqa: E501
    (
        "FrameWise(nn.Flatten(0))(torch.rand(5, 2, 3))",
        lambda: FrameWise(nn.Flatten(0))(torch.rand(5, 2, 3)),
        TypeError,
        "module",
    ),  # noqa: E501
    # SumPool2d
    ("SumPool2d(0)", lambda: SumPool2d(0), ValueError, "kernel_size"),
    ("SumPool2d(2.0)", lambda: SumPool2d(2.0), TypeError, "kernel_size"),
    ("SumPool2d(True)", lambda: SumPool2d(True), TypeError, "kernel_size"),
    ("SumPool2d(2, scale=0.0)", lambda: SumPool2d(2, scale=0.0), ValueError, "scale"),
    ("SumPool2d(2, scale='1.1')", lambda: SumPool2d(2, scale="1.1"), TypeError, "scale"),
    ("SumPool2d(2)([[1.0]])", lambda: SumPool2d(2)([[1.0]]), TypeError, "x"),
    ("SumPool2d(2)(torch.rand(1, 4, 4))", lambda: SumPool2d(2)(torch.rand(1, 4, 4)), ValueError, "x"),
    ("SumPool2d(2)(torch.rand(1, 1, 1, 4))", lambda: SumPool2d(2)(torch.rand(1, 1, 1, 4)), ValueError, "x"),
    (
        "SumPool2d(2)(torch.ones(1, 1, 4, 4, dtype=torch.int64))",
        lambda: SumPool2d(2)(torch.ones(1, 1, 4, 4, dtype=torch.int64)),
        TypeError,
        "x",
    ),  # noqa: E501
    # stbp() and the rule registry
    ("stbp('box')", lambda: stbp("box"), ValueError, "kind"),
    ("stbp(kind=3)", lambda: stbp(kind=3), TypeError, "kind"),
    ("stbp(a=0)", lambda: stbp(a=0), ValueError, "a"),
    ("stbp(a=-1.0)", lambda: stbp(a=-1.0), ValueError, "a"),
    ("stbp(a='1')", lambda: stbp(a="1"), TypeError, "a"),
    ("rules.get(3)", lambda: rules.get(3), TypeError, "name"),
    ("rules.register('', factory)", lambda: rules.register("", stbp), TypeError, "name"),
    ("rules.register('mine', 3)", lambda: rules.register("mine", 3), TypeError, "factory"),
]


@pytest.mark.parametrize("call,function,error,argument", CASES, ids=[c[0] for c in CASES])
def test_bad_argument_is_rejected_with_a_message_naming_it(call, function, error, argument):
    with pytest.raises(error) as info:
        function()
    message = str(info.value)
    assert message.startswith(argument) or f"{argument}" in message.split(" must")[0], message
    assert " must " in message and "got" in message, message


def test_every_case_is_in_the_documented_table():
    table = DOC.read_text()
    missing = [call for call, *_ in CASES if f"`{call}`" not in table]
    assert not missing, f"add these rows to {DOC.name}: {missing}"


@pytest.mark.parametrize(
    "call",
    [
        lambda: tssl(max_inv_du=INF),
        lambda: tssl(tau_s=1.0, warmup_width=1e-3),
        lambda: SynapticSequence(beta=1.0),
        lambda: SynapticSequence(alpha=0.0, beta=0.0),
        lambda: SynapticSequence(tau_m=INF),
        lambda: SynapticSequence(tau_s=torch.tensor(3.0), threshold=torch.tensor(0.5)),
        lambda: SynapticSequence()(torch.rand(1, 1, 1)),
        lambda: SumPool2d(1)(torch.rand(1, 1, 1, 1)),
        lambda: TF.van_rossum_loss(tau=1.0)(SPK, LABELS),
        lambda: TF.count_loss(tau=1.0, desired=0.0, undesired=0.0)(SPK, LABELS),
    ],
)
def test_boundary_values_are_accepted(call):
    call()
