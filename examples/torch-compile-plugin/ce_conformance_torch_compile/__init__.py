"""ce-conformance plugin: ``F.cross_entropy`` under ``torch.compile``, as ``torch.compile``.

The adapter is built in now (``implementations.torch_compile``, the registry's
``torch.compile`` row, with ``expectations/torch.compile.yaml``); this package is its
entry-point form, kept as the worked example of a compiler plugin: it registers the built-in
class under ``ce_conformance.implementations`` and adds nothing. The class is the short form
of a torch-callable plugin: a subclass of the public ``implementations.TorchLossAdapter``
(through the built-in ``torch`` column) that writes only ``torch_loss`` and ``limits``. A
built-in name wins over an entry point of the same name, so installing it changes no run.
"""

from __future__ import annotations

from implementations.torch_compile import TorchCompile as TorchCompileImplementation

__all__ = ["TorchCompileImplementation"]
