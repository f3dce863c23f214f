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

The variants in ``implementations.keras_variants`` (other spellings a Keras user writes)
override the hooks ``_loss_dtype``, ``_class_axis`` and ``_sample_weight``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from implementations import frameworks
from implementations._tensorflow import classes_last_value_and_grad
from implementations.adapter import Adapter, Arguments, Result
from implementations.base import DEFAULT_IGNORE_INDEX, Array, Call

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

    def _loss_dtype(self, args: Arguments) -> str | None:
        """The ``dtype=`` given to the loss object (the requested one; ``None``: Keras' floatx)."""
        return args.dtype

    def _class_axis(self, call: Call) -> int:
        """The ``axis=`` given to the loss object (-1: the classes are moved last)."""
        return -1

    def _loss_object(self, args: Arguments, call: Call) -> Any:
        losses = self._keras.losses
        reduction = REDUCTIONS.get(args.reduction, args.reduction)
        options: dict[str, Any] = {"from_logits": True, "reduction": reduction,
                                   "dtype": self._loss_dtype(args)}
        if (axis := self._class_axis(call)) != -1:
            options["axis"] = axis
        if call.target_kind == "probabilities":
            return losses.CategoricalCrossentropy(
                label_smoothing=float(args.label_smoothing), **options)
        ignore_class = None if args.ignore_index == DEFAULT_IGNORE_INDEX else int(args.ignore_index)
        return losses.SparseCategoricalCrossentropy(ignore_class=ignore_class, **options)

    def _sample_weight(self, args: Arguments, call: Call) -> Array | None:
        """The ``sample_weight`` passed with each call (none: Keras weighs nothing)."""
        return None

    def _keras_loss(self, args: Arguments, call: Call) -> Callable[[Any, Any], Any]:
        """``loss(logits, labels)``: Keras' loss object called as a user would."""
        loss_object = self._loss_object(args, call)
        sample_weight = self._sample_weight(args, call)

        def loss(logits: Any, labels: Any) -> Any:
            # Keras warns (SyntaxWarning) about shapes it finds unusual; the result speaks
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SyntaxWarning)
                return loss_object(labels, logits, sample_weight=sample_weight)

        return loss

    def evaluate(self, args: Arguments, call: Call) -> Result:
        """Keras' loss with torch's arguments mapped, on class-last logits; the gradient
        through ``tf.GradientTape``."""
        x, t, _ = args.cast()
        return classes_last_value_and_grad(self._keras_loss(args, call), x, t, call, args.device)
