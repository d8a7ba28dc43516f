"""TSSL-BP's one home: the rule (:mod:`.rule`), its binding to stock snnTorch neurons (:mod:`.binding`) and
its sequence path (:mod:`.sequence`)."""

from snntorch_tssl.rules.tssl.rule import TSSL, tssl

__all__ = ["TSSL", "tssl"]
