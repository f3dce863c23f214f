"""keras: Keras 3's cross-entropy losses on the TensorFlow backend, as a user would call them.

* Class indices: ``keras.losses.SparseCategoricalCrossentropy(from_logits=True,
  ignore_class=...)``; torch's ``ignore_index`` becomes ``ignore_class`` when it is not torch's
  default (a user porting ``F.cross_entropy(x, y)`` writes no ``ignore_class``). Keras 3.15's
  sparse loss has no ``label_smoothing``: unsupported.
* Probabilities: ``keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=...)``,
  which has no ``ignore_class``: a non-default ``ignore_index`` is unsupported.
* Reductions: ``none`` -> ``"none"``, ``sum`` -> ``"sum"``, ``mean`` -> ``"sum_over_batch_size"``
  (Keras' default and its own rule for dividing; any other name goes to Keras unchanged).
* No class weights (``sample_weight`` weighs samples, not classes): unsupported.
* The loss's ``dtype`` is the requested dtype (Keras would otherwise compute in ``floatx()``,
  float32); the classes are moved last, Keras' layout.

Constructing the adapter loads Keras through ``implementations.frameworks.keras()``, which sets
``KERAS_BACKEND=tensorflow`` unless it is set already; Keras fixes its backend on first import,
so ``available()`` says so when it is another one.
"""

from __future__ import annotations

import warnings
from typing import Any

from implementations import frameworks
from implementations._adapter import Adapter, Arguments, Result
from implementations._tensorflow import classes_last_value_and_grad
from implementations.base import DEFAULT_IGNORE_INDEX, Call

REDUCTIONS = {"none": "none", "sum": "sum", "mean": "sum_over_batch_size"}


class KerasImplementation(Adapter):
    """Keras 3's (Sparse)CategoricalCrossentropy on TensorFlow; no class weights."""

    name = "keras"
    framework = "tensorflow"

    def __init__(self) -> None:
        self._keras = frameworks.keras()

    def available(self) -> str | None:
        """``None`` on the TensorFlow backend, else why not."""
        backend = self._keras.backend.backend()
        if backend != "tensorflow":
            return (f"keras runs on the {backend} backend; this adapter needs "
                    "KERAS_BACKEND=tensorflow before keras is first imported")
        return None

    def limits(self, call: Call) -> str | None:
        """What Keras' two losses cannot express."""
        if call.has_weight:
            return "keras has no class weights (sample_weight weighs samples, not classes)"
        if call.target_kind == "indices" and call.label_smoothing != 0.0:
            return "keras' SparseCategoricalCrossentropy has no label_smoothing"
        if call.target_kind == "probabilities" and call.uses_ignore_index:
            return "keras' CategoricalCrossentropy has no ignore_class"
        return None

    def versions(self) -> dict[str, str]:
        """Keras' and TensorFlow's versions."""
        return {"keras": str(self._keras.__version__),
                "tensorflow": str(frameworks.tensorflow().__version__)}

    def _loss_object(self, args: Arguments, call: Call) -> Any:
        losses = self._keras.losses
        reduction = REDUCTIONS.get(args.reduction, args.reduction)
        if call.target_kind == "probabilities":
            return losses.CategoricalCrossentropy(
                from_logits=True, label_smoothing=float(args.label_smoothing),
                reduction=reduction, dtype=args.dtype)
        ignore_class = None if args.ignore_index == DEFAULT_IGNORE_INDEX else int(args.ignore_index)
        return losses.SparseCategoricalCrossentropy(
            from_logits=True, ignore_class=ignore_class, reduction=reduction, dtype=args.dtype)

    def evaluate(self, args: Arguments, call: Call) -> Result:
        """Keras' loss with torch's arguments mapped, on class-last logits; the gradient
        through ``tf.GradientTape``."""
        x, t, _ = args.cast()
        loss_object = self._loss_object(args, call)

        def loss(logits: Any, labels: Any) -> Any:
            # Keras warns (SyntaxWarning) about shapes it finds unusual; the result speaks
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SyntaxWarning)
                return loss_object(labels, logits)

        return classes_last_value_and_grad(loss, x, t, call, args.device)
