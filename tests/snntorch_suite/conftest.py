"""snnTorch's own test suite, run with ``tssl()`` as the default spike_grad of every snnTorch neuron.

The test files here are snnTorch 1.0.0's (its sources match snnTorch commit ff7c298 with
``test_snntorch/test_deltaleaky.py`` of commit 634fc22, where DeltaLeaky was added), vendored whole
under snnTorch's MIT licence (``LICENSE`` beside this file); ``test_nir.py`` is left out (it needs the
optional ``nir`` and ``nirtorch`` packages and a data file, and never calls a spike_grad). The
``__init__.py`` files and this conftest are this project's.

snnTorch's neurons take ``snntorch.surrogate.atan()`` when no spike_grad is given; here that default is
``tssl()``. Tests of the neurons ``tssl()`` refuses when they are built may fail only with that refusal:
such failures are reported as expected failures, any other failure as a failure. (Some of those tests
pass: they build the neuron with ``surrogate_disable=True``, which takes no spike_grad.)
"""

import pytest
from snntorch._neurons import neurons

from snntorch_tssl import tssl

#: Test files (or file::test) that build a neuron tssl() refuses.
REFUSED = (
    "test_snntorch/test_alpha.py",
    "test_snntorch/test_deltaleaky.py",
    "test_snntorch/test_sconv2dlstm.py",
    "test_snntorch/test_slstm.py",
    "test_snntorch.py::test_instances",  # builds an snn.Alpha
)
REFUSAL = "tssl() does not support snn."


@pytest.fixture(autouse=True, scope="module")
def tssl_is_the_default_spike_grad():
    """Module scope, so that the neurons of snnTorch's module-scoped fixtures get it too; undone after each
    module, so the rest of this project's suite keeps snnTorch's own default. snnTorch's class-wide list
    of neurons (which its ``reset_hidden`` and ``detach_hidden`` walk) is restored too."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(neurons, "atan", lambda *args, **kwargs: tssl())
        patch.setattr(neurons.SpikingNeuron, "instances", list(neurons.SpikingNeuron.instances))
        yield


def is_refused(item: pytest.Item) -> bool:
    path = item.nodeid.split("snntorch_suite/", 1)[-1]
    return any(path == refused or path.startswith(refused + "::") for refused in REFUSED)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    if not is_refused(item):
        return
    report = outcome.get_result()
    excinfo = call.excinfo
    refused = excinfo is not None and excinfo.errisinstance(NotImplementedError) and REFUSAL in str(excinfo.value)
    if refused and call.when in ("setup", "call"):
        report.outcome, report.wasxfail = "skipped", f"refused when built: {excinfo.value}"
