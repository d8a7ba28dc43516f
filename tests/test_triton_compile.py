"""The Triton kernels compile for a GPU, which needs no GPU: code that Triton's interpreter runs but its
compiler refuses is caught on any machine. The kernels of a process that runs them interpreted
(``TRITON_INTERPRET=1``) cannot be compiled, so there the test runs itself in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from snntorch_tssl import _math

triton = pytest.importorskip("triton", reason="triton does not import: SynapticSequence uses the PyTorch path")

FLOAT_ARGUMENTS = {"max_inv_du", "warmup_width", "p0", "p1", "p2"}
FORWARD_FLAGS = ("SYNAPSE", "KEEP_SYN", "KEEP_AFTER", "TRACE", "INITIAL")
TSSL_FLAGS = (
    "WARMUP",
    "RESET_TERM",
    "GRAD_SPIKE",
    "GRAD_AFTER",
    "GRAD_CURRENT",
    "SYNAPSE",
    "INITIAL",
    "FINAL",
    "STATE",
)
SURROGATE_FLAGS = ("GRAD_SPIKE", "GRAD_AFTER", "GRAD_CURRENT", "SYNAPSE", "FINAL", "STATE")


def compile_for_gpu(kernel, constexprs: dict, options: dict | None = None):
    """Compile ``kernel`` for an sm_90 GPU, with float32 pointers (bytes for the warm-up mask)."""
    from triton.backends.compiler import GPUTarget

    signature = {}
    for name in kernel.arg_names:
        if name in constexprs:
            signature[name] = "constexpr"
        elif name.endswith("_ptr"):
            signature[name] = "*u8" if name == "warm_ptr" else "*fp32"
        else:
            signature[name] = "fp32" if name in FLOAT_ARGUMENTS else "i32"
    try:
        source = triton.compiler.ASTSource(fn=kernel, signature=signature, constexprs=constexprs)
    except TypeError as error:
        pytest.skip(f"triton {triton.__version__} compiles for a target differently ({error})")
    return triton.compile(source, target=GPUTarget("cuda", 90, 32), options={"num_warps": 4, **(options or {})})


def test_kernels_compile_for_a_gpu():
    if _math.backend.triton_interpreted():
        test = f"{__file__}::test_kernels_compile_for_a_gpu"
        env = {**os.environ, "TRITON_INTERPRET": "0"}
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", test]
        result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        return
    from snntorch_tssl._math import lif_triton, surrogate_triton, tssl_triton

    for reset in range(len(_math.RESET_MECHANISMS)):
        for flag in (True, False):
            constexprs = {"RESET": reset, "BLOCK": 128, **dict.fromkeys(FORWARD_FLAGS, flag)}
            forward = compile_for_gpu(lif_triton._lif_forward_kernel, constexprs, {"enable_fp_fusion": False})
            assert "fma" not in forward.asm["ptx"]  # every product and sum rounded, as in the PyTorch pass
            constexprs = {"RESET": reset, "BLOCK": 128, **dict.fromkeys(TSSL_FLAGS, flag)}
            compile_for_gpu(tssl_triton._tssl_backward_kernel, constexprs)
    for name, curve in surrogate_triton.CURVES.items():
        flags = dict.fromkeys(SURROGATE_FLAGS, curve % 2 == 0)
        constexprs = {"CURVE": curve, "RESET": curve % len(_math.RESET_MECHANISMS), "BLOCK": 128, **flags}
        assert compile_for_gpu(surrogate_triton._surrogate_backward_kernel, constexprs).asm["cubin"], name
