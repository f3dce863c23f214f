"""GPU checks: torch (CUDA) and JAX (GPU) conform on every spec case. Skipped without a GPU.

torch's CUDA kernel reports an out-of-range class index with a device-side assert, which leaves
the CUDA context of its process unusable. The run needs no exclusions for it: each
implementation runs in a worker process (``conformance.isolation``), the assert is recorded as
the raise it is, and the worker is replaced before the next call.
"""

from __future__ import annotations

import pytest

from conformance import session
from conformance.expectations import expectations_for
from conformance.spec import load_spec
from implementations import registry

pytestmark = pytest.mark.gpu


def _cuda_result(name: str, dtype: str) -> session.ImplResult:
    for module in registry.builtin(name).modules:
        pytest.importorskip(module)
    plan = session.Plan(cases=tuple(load_spec()), dtypes=(dtype,), devices=("cuda",))
    (result,) = session.run([name], plan)
    if result.skipped or result.described is None or "cuda" not in result.described.devices:
        pytest.skip(f"{name} sees no CUDA device")
    return result


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", ["torch", "jax"])
def test_every_spec_case_conforms_on_gpu(name, dtype):
    result = _cuda_result(name, dtype)
    assert result.described is not None
    annotated = expectations_for(result.described.name).annotate(result.records)
    assert not annotated.new, [(r.case, r.check, r.reason) for r in annotated.new]


def test_torch_cuda_out_of_range_target_raises_and_the_run_goes_on():
    result = _cuda_result("torch", "float32")
    by_case = {(r.case, r.check): r for r in result.records}
    assert by_case[("invalid-target-out-of-range", "invalid")].outcome == "raises"
    after = [r for r in result.records if r.check == "value"][-5:]
    assert all(r.verdict in ("conforms", "diverges") for r in after), after
