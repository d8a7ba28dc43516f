"""Spike-sequence targets: the authors' and the paper's patterns, regular trains, tiling rules, input checks."""

import warnings

import pytest
import torch

from snntorch_tssl.spikegen import regular_pattern, targets_spike_sequence

LABELS = torch.tensor([2, 0, 1])


def label_train(num_steps, pattern="tssl", **kwargs):
    """The targets; also checks that a warning comes exactly when the label neuron's train equals the others'."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        target = targets_spike_sequence(LABELS, 3, num_steps, pattern, **kwargs)
    assert target.shape == (num_steps, 3, 3)
    same = torch.equal(target[:, 0, 2], target[:, 0, 0])  # sample 0 has label 2
    assert len(caught) == same, [str(w.message) for w in caught]
    if same:
        assert "nothing to learn" in str(caught[0].message) and caught[0].filename == __file__
    return target


@pytest.mark.parametrize(
    "num_steps,expected",
    [
        (5, [0, 1, 1, 1, 1]),
        (7, [0, 1, 1, 1, 1, 0, 1]),  # repeated and cut
        (9, [0, 1, 1, 1, 1, 0, 1, 1, 1]),
        (10, [0, 1] * 5),
        (13, [0, 1] * 6 + [0]),
        (3, [0, 1, 1]),  # built-in periods are cut to T
        (1, [0]),
    ],
)
def test_tssl_pattern_on_the_label_neuron_others_silent(num_steps, expected):
    target = label_train(num_steps)
    for b, label in enumerate(LABELS.tolist()):
        assert target[:, b, label].tolist() == expected
        others = [c for c in range(3) if c != label]
        assert target[:, b, others].sum() == 0


def test_paper_pattern():
    assert label_train(5, "tssl-paper")[:, 0, 2].tolist() == [0, 1, 0, 1, 1]
    assert label_train(7, "tssl-paper")[:, 0, 2].tolist() == [0, 1, 0, 1, 1, 0, 1]
    assert label_train(4, "tssl-paper")[:, 0, 2].tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize(
    "num_steps,num_spikes,first,times",
    [(10, 3, 1, [1, 4, 7]), (10, 5, 0, [0, 2, 4, 6, 8]), (7, 7, 0, list(range(7))), (5, 0, 0, []), (9, 2, 4, [4, 6])],
)
def test_regular_pattern(num_steps, num_spikes, first, times):
    pattern = regular_pattern(num_steps, num_spikes, first)
    assert pattern.nonzero().flatten().tolist() == times
    target = label_train(num_steps, "regular", num_spikes=num_spikes, first_spike=first)
    assert torch.equal(target[:, 1, 0], pattern)


def test_user_tensor_pattern_and_low_rate_off_pattern():
    target = label_train(6, torch.tensor([1.0, 0.5, 0.0]), off_pattern="regular", off_num_spikes=1, first_spike=0)
    assert target[:, 0, 2].tolist() == [1.0, 0.5, 0.0, 1.0, 0.5, 0.0]
    assert target[:, 0, 0].tolist() == [1, 0, 0, 0, 0, 0]
    silent = label_train(6, "silent", off_pattern=torch.tensor([0.0, 1.0]))
    assert silent[:, 0, 2].sum() == 0 and silent[:, 0, 0].tolist() == [0, 1] * 3


def test_dtype_and_device_follow_the_request_and_the_labels():
    target = targets_spike_sequence(LABELS, 3, 5, dtype=torch.float64)
    assert target.dtype == torch.float64 and target.device == LABELS.device


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(labels=torch.tensor([0, 3])), ValueError, "labels must lie in"),
        (dict(labels=torch.tensor([-1])), ValueError, "labels must lie in"),
        (dict(labels=torch.tensor([0.0])), TypeError, "labels must have an integer dtype"),
        (dict(labels=torch.zeros(0, dtype=torch.long)), ValueError, "empty batch"),
        (dict(labels=torch.zeros(2, 2, dtype=torch.long)), ValueError, "labels must be a 1-D"),
        (dict(num_steps=0), ValueError, "num_steps must be an int >= 1"),
        (dict(num_steps=2.0), TypeError, "num_steps must be an int"),
        (dict(num_classes=0), ValueError, "num_classes"),
        (dict(pattern="bursty"), ValueError, "pattern must be one of"),
        (dict(pattern=3), TypeError, "pattern must be one of"),
        (dict(pattern=torch.ones(6)), ValueError, "pattern must not be longer than num_steps=5"),
        (dict(off_pattern=torch.ones(6)), ValueError, "off_pattern must not be longer than num_steps=5"),
        (dict(pattern=torch.ones(2, 2)), ValueError, "pattern must be a non-empty 1-D"),
        (dict(pattern="regular"), ValueError, "num_spikes"),
        (dict(pattern="regular", num_spikes=6), ValueError, "num_spikes must be <="),
        (dict(pattern="regular", num_spikes=1, first_spike=5), ValueError, "first_spike must be < num_steps"),
        (dict(dtype=torch.int64), TypeError, "dtype must be a floating"),
    ],
)
def test_bad_inputs_name_the_argument(kwargs, error, match):
    arguments = dict(labels=torch.tensor([0, 1]), num_classes=3, num_steps=5) | kwargs
    with pytest.raises(error, match=match):
        targets_spike_sequence(**arguments)


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.int16, torch.uint8])
def test_any_integer_label_dtype(dtype):
    """int32 and uint8 labels (what many datasets return) give the same targets as int64."""
    expected = targets_spike_sequence(LABELS, 3, 5)
    assert torch.equal(targets_spike_sequence(LABELS.to(dtype), 3, 5), expected)


def test_single_step_tssl_target_warns_that_it_equals_silence():
    with pytest.warns(UserWarning, match=r"pattern 'tssl' at num_steps=1 gives the label neuron the target \[0.0\]"):
        targets_spike_sequence(LABELS, 3, 1, "tssl")
