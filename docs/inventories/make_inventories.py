"""Write the intersphinx inventories of PyTorch, NumPy and snnTorch from the installed packages.

The documentation builds offline, so the inventories it links through are
committed here. ``python.inv`` is the real inventory of the Python 3.11
documentation (from Debian's ``python3.11-doc`` package:
``/usr/share/doc/python3.11/html/objects.inv``). The other three are made by
this script from the installed packages: every public class and function,
with the address where the project's documentation site puts it (the URL
layout of each site is written out below). Objects are also listed under the
module that defines them (``torch.nn.modules.module.Module`` for
``torch.nn.Module``), since that is the name type hints carry.

Run it after upgrading those packages (``requirements/constraints.txt``)::

    python docs/inventories/make_inventories.py
"""

from __future__ import annotations

import importlib
import inspect
import zlib
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: snnTorch's documentation: page -> modules documented there with ``automodule :members:``
#: (its docs/*.rst). Objects are anchored by the defining module's name.
SNNTORCH_PAGES = {
    "snntorch.html": ["snntorch._neurons.neurons", "snntorch._layers.bntt"],
    "snn.neurons_alpha.html": ["snntorch._neurons.alpha"],
    "snn.neurons_lapicque.html": ["snntorch._neurons.lapicque"],
    "snn.neurons_leaky.html": ["snntorch._neurons.leaky"],
    "snn.neurons_leakyparallel.html": ["snntorch._neurons.leakyparallel"],
    "snn.neurons_rleaky.html": ["snntorch._neurons.rleaky"],
    "snn.neurons_rsynaptic.html": ["snntorch._neurons.rsynaptic"],
    "snn.neurons_sconvlstm.html": ["snntorch._neurons.sconv2dlstm"],
    "snn.neurons_slstm.html": ["snntorch._neurons.slstm"],
    "snn.neurons_synaptic.html": ["snntorch._neurons.synaptic"],
    "snntorch.backprop.html": ["snntorch.backprop"],
    "snntorch.functional.html": ["snntorch.functional.acc", "snntorch.functional.loss", "snntorch.functional.reg"],
    "snntorch.spikegen.html": ["snntorch.spikegen"],
    "snntorch.spikeplot.html": ["snntorch.spikeplot"],
    "snntorch.surrogate.html": ["snntorch.surrogate"],
    "snntorch.utils.html": ["snntorch.utils"],
}
#: Where snnTorch users import the documented objects from.
SNNTORCH_PUBLIC = ["snntorch", "snntorch.surrogate", "snntorch.functional", "snntorch.spikegen", "snntorch.utils"]

#: PyTorch's documentation: modules whose classes and functions each have a generated page.
TORCH_GENERATED = ["torch", "torch.nn", "torch.nn.functional", "torch.optim", "torch.nn.parallel", "torch.nn.init"]
#: PyTorch objects documented on a topic page instead.
TORCH_PAGES = {
    "torch.Tensor": "tensors.html",
    "torch.dtype": "tensor_attributes.html",
    "torch.device": "tensor_attributes.html",
    "torch.Generator": "generated/torch.Generator.html",
    "torch.optim.Optimizer": "optim.html",
    "torch.autograd.Function": "autograd.html",
    "torch.utils.data.Dataset": "data.html",
    "torch.utils.data.DataLoader": "data.html",
    "torch.utils.data.Sampler": "data.html",
    "torch.utils.data.TensorDataset": "data.html",
    "torch.utils.data.distributed.DistributedSampler": "data.html",
    "torch.distributed.init_process_group": "distributed.html",
    "torch.distributed.all_reduce": "distributed.html",
}


def public_members(module_name: str, *, defined_here: bool) -> Iterator[tuple[str, object]]:
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None) or [name for name in vars(module) if not name.startswith("_")]
    for name in names:
        obj = getattr(module, name, None)
        if not (inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj)):
            continue
        if defined_here and getattr(obj, "__module__", None) != module_name:
            continue
        yield name, obj


def role(obj: object) -> str:
    return "py:class" if inspect.isclass(obj) else "py:function"


def defining_name(obj: object) -> str | None:
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return f"{module}.{qualname}" if module and qualname and "<" not in qualname else None


def torch_entries() -> dict[str, tuple[str, str]]:
    entries: dict[str, tuple[str, str]] = {}
    objects: dict[str, object] = {}
    for module_name in TORCH_GENERATED:
        for name, obj in public_members(module_name, defined_here=False):
            full = f"{module_name}.{name}"
            if getattr(obj, "__module__", "").startswith("torch") or module_name == "torch":
                entries[full] = (role(obj), f"generated/{full}.html#{full}")
                objects[full] = obj
    for full, page in TORCH_PAGES.items():
        module_name, _, name = full.rpartition(".")
        obj = getattr(importlib.import_module(module_name), name)
        entries[full] = (role(obj), f"{page}#{full}")
        objects[full] = obj
    return with_defining_names(entries, objects)


def numpy_entries() -> dict[str, tuple[str, str]]:
    entries, objects = {}, {}
    for name, obj in public_members("numpy", defined_here=False):
        full = f"numpy.{name}"
        entries[full] = (role(obj), f"reference/generated/{full}.html#{full}")
        objects[full] = obj
    return with_defining_names(entries, objects)


def snntorch_entries() -> dict[str, tuple[str, str]]:
    entries, objects = {}, {}
    for page, modules in SNNTORCH_PAGES.items():
        for module_name in modules:
            for name, obj in public_members(module_name, defined_here=True):
                full = f"{module_name}.{name}"
                entries[full] = (role(obj), f"{page}#{full}")
                objects[full] = obj
                if inspect.isclass(obj):
                    for member, value in vars(obj).items():
                        if not member.startswith("_") and inspect.isfunction(value):
                            entries[f"{full}.{member}"] = ("py:method", f"{page}#{full}.{member}")
    by_object = {id(obj): full for full, obj in objects.items()}
    for module_name in SNNTORCH_PUBLIC:
        for name, obj in public_members(module_name, defined_here=False):
            if id(obj) in by_object:
                entries.setdefault(f"{module_name}.{name}", entries[by_object[id(obj)]])
    return entries


def with_defining_names(entries: dict, objects: dict) -> dict[str, tuple[str, str]]:
    """Also list every object under the name of the module that defines it (what type hints show)."""
    for full, obj in objects.items():
        alias = defining_name(obj)
        if alias and alias not in entries:
            entries[alias] = entries[full]
    return entries


def write(path: Path, project: str, version: str, entries: dict[str, tuple[str, str]]) -> None:
    header = (
        f"# Sphinx inventory version 2\n# Project: {project}\n# Version: {version}\n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    lines = [f"{name} {kind} 1 {uri} -\n" for name, (kind, uri) in sorted(entries.items())]
    path.write_bytes(header.encode() + zlib.compress("".join(lines).encode(), 9))
    print(f"{path.name}: {len(lines)} objects")


def main() -> None:
    import numpy
    import snntorch
    import torch

    write(HERE / "torch.inv", "PyTorch", torch.__version__.split("+")[0], torch_entries())
    write(HERE / "numpy.inv", "NumPy", numpy.__version__, numpy_entries())
    write(HERE / "snntorch.inv", "snntorch", snntorch.__version__, snntorch_entries())


if __name__ == "__main__":
    main()
