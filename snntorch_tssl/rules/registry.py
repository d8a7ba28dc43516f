"""The registry of gradient methods: one name per rule, so a config string switches rules."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from importlib.metadata import EntryPoint, entry_points

from torch import Tensor

from snntorch_tssl.rules.stbp import KINDS, stbp
from snntorch_tssl.rules.surrogates import SURROGATES, SnnTorchSurrogate
from snntorch_tssl.rules.tssl import tssl

ENTRY_POINT_GROUP = "snntorch_tssl.rules"

Factory = Callable[..., Callable[[Tensor], Tensor]]

_RULES: dict[str, Factory] = {
    "tssl": tssl,
    **{f"stbp-{kind}": partial(stbp, kind) for kind in KINDS},
    **{name: partial(SnnTorchSurrogate, name) for name in SURROGATES},
}


def _plugins() -> dict[str, EntryPoint]:
    """Rules that installed packages declare in the entry-point group ``snntorch_tssl.rules``."""
    return {point.name: point for point in entry_points(group=ENTRY_POINT_GROUP)}


def available() -> list[str]:
    """Names of every rule: built-in, registered with :func:`register`, and installed plug-ins.

    Example::

        from snntorch_tssl import rules

        "stbp-gaussian" in rules.available()  # True
    """
    return sorted(set(_RULES) | set(_plugins()))


def register(name: str, factory: Factory, *, overwrite: bool = False) -> None:
    """Register ``factory`` (called with the keyword arguments of :func:`get`) under ``name``.

    :param name: the rule's name, a non-empty string
    :param factory: a callable returning a ``spike_grad``
    :param overwrite: replace an existing rule of that name instead of raising

    Example::

        from snntorch import surrogate
        from snntorch_tssl import rules

        rules.register("my-atan", lambda alpha=2.0: surrogate.atan(alpha))
        lif_grad = rules.get("my-atan", alpha=3.0)
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {type(name).__name__} {name!r}")
    if not callable(factory):
        raise TypeError(f"factory must be callable (returning a spike_grad), got {type(factory).__name__}")
    if name in _RULES and not overwrite:
        raise ValueError(f"name {name!r} is already registered; pass overwrite=True to replace it")
    _RULES[name] = factory


def get(name: str, **kwargs: object) -> Callable[[Tensor], Tensor]:
    r"""Build the rule called ``name`` with ``kwargs``: a ``spike_grad`` for any neuron.

    Built-in names: ``"tssl"`` (:func:`snntorch_tssl.tssl`), ``"stbp-rectangular"``,
    ``"stbp-polynomial"``, ``"stbp-sigmoid"``, ``"stbp-gaussian"``
    (:func:`snntorch_tssl.stbp`) and snnTorch's surrogates by their factory
    names (``"atan"``, ``"fast_sigmoid"``, ..., see :class:`SnnTorchSurrogate`).
    Rules registered with :func:`register` come first, then installed
    plug-ins of the entry-point group ``snntorch_tssl.rules``, e.g. in a
    plug-in's ``pyproject.toml``::

        [project.entry-points."snntorch_tssl.rules"]
        my-rule = "my_package.rules:make_my_rule"

    :param name: the rule's name (see :func:`available`)
    :param kwargs: passed to the rule's factory
    :return: the rule, to pass as ``spike_grad``

    Example::

        import snntorch as snn
        from snntorch_tssl import rules

        lif = snn.Leaky(beta=0.8, spike_grad=rules.get("stbp-gaussian", a=0.5))
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str naming a rule, got {type(name).__name__} {name!r}")
    if name in _RULES:
        factory = _RULES[name]
    else:
        plugins = _plugins()
        if name not in plugins:
            raise ValueError(f"unknown rule name {name!r}; valid names: {', '.join(available())}")
        factory = plugins[name].load()
        if not callable(factory):
            raise TypeError(f"the entry point of rule {name!r} must load a callable factory, got {factory!r}")
    rule = factory(**kwargs)
    if not callable(rule):
        raise TypeError(f"the factory of rule {name!r} must return a callable spike_grad, got {rule!r}")
    return rule
