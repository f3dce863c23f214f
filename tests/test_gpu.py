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
from implementations import registry
from implementations.base import devices_of

pytestmark = pytest.mark.gpu

OUT_OF_RANGE = ["invalid-target-out-of-range", "invalid-target-negative"]
CASES = select_cases(load_spec(), None, OUT_OF_RANGE)


def _on_cuda(name):
    """Built-in ``name``, skipped unless its frameworks are installed and it sees a GPU."""
    for module in registry.builtin(name).modules:
        pytest.importorskip(module)
    impl = implementations.load(name)
    if "cuda" not in devices_of(impl):
        pytest.skip(f"{name} sees no CUDA device")
    return impl


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["torch", "jax"])
def test_spec_conforms_on_gpu(name, dtype):
    impl = _on_cuda(name)
    records = Runner().run(impl, CASES, dtype=dtype, device="cuda")
    from conformance.expectations import expectations_for

    annotated = expectations_for(impl.name).annotate(records)
    assert not annotated.new, [(r.case, r.check, r.reason) for r in annotated.new]


def test_torch_cuda_out_of_range_target_is_a_device_assert():
    _on_cuda("torch")
    code = ("import torch, torch.nn.functional as F\n"
            "x = torch.zeros(2, 3, device='cuda')\n"
            "F.cross_entropy(x, torch.tensor([0, 5], device='cuda'))\n"
            "torch.cuda.synchronize()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode != 0
    assert "device-side assert" in done.stderr or "out of bounds" in done.stderr
