"""GPU checks: torch (CUDA) and JAX (GPU) conform on the spec cases. Skipped without a GPU.

torch's CUDA kernel reports an out-of-range class index with a device-side assert, which
leaves the CUDA context unusable for the rest of the process; those invalid cases are left out
here and checked in a subprocess instead.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

import implementations
from conformance.runner import Runner
from conformance.spec import load_spec, select_cases

pytestmark = pytest.mark.gpu

OUT_OF_RANGE = ["invalid-target-out-of-range", "invalid-target-negative"]
CASES = select_cases(load_spec(), None, OUT_OF_RANGE)


def _torch_cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch sees no CUDA device")
    return implementations.load("torch")


def _jax_gpu():
    jax = pytest.importorskip("jax")
    try:
        jax.devices("gpu")
    except RuntimeError:
        pytest.skip("JAX sees no GPU")
    return implementations.load("jax")


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("loader", [_torch_cuda, _jax_gpu], ids=["torch", "jax"])
def test_spec_conforms_on_gpu(loader, dtype):
    impl = loader()
    records = Runner().run(impl, CASES, dtype=dtype, device="cuda")
    from conformance.expectations import expectations_for

    annotated = expectations_for(impl.name).annotate(records)
    assert not annotated.new, [(r.case, r.check, r.reason) for r in annotated.new]


def test_torch_cuda_out_of_range_target_is_a_device_assert():
    _torch_cuda()
    code = ("import torch, torch.nn.functional as F\n"
            "x = torch.zeros(2, 3, device='cuda')\n"
            "F.cross_entropy(x, torch.tensor([0, 5], device='cuda'))\n"
            "torch.cuda.synchronize()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode != 0
    assert "device-side assert" in done.stderr or "out of bounds" in done.stderr
