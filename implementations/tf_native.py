"""tensorflow.nn: TensorFlow's fused softmax cross-entropy ops, as a user would call them.

* Class indices: ``tf.nn.sparse_softmax_cross_entropy_with_logits``; probabilities:
  ``tf.nn.softmax_cross_entropy_with_logits``. TensorFlow wants the classes last, so the
  adapter moves torch's class axis (1, or 0 for a ``(C,)`` input) to the end: a conversion.
* Reductions: the per-example losses (``none``), ``tf.reduce_sum`` or ``tf.reduce_mean``, as a
  user would; ``mean`` is the plain mean.
* No class weights, no ``ignore_index``, no label smoothing in ``tf.nn``: unsupported. A target
  equal to the default ``-100`` goes to TensorFlow unchanged, and integer targets keep their
  dtype (TensorFlow's label dtypes are int32 and int64).
"""

from __future__ import annotations

from typing import Any

from implementations import frameworks
from implementations._convert import user_reduction
from implementations._tensorflow import classes_last_value_and_grad
from implementations.adapter import Adapter, Arguments, Result
from implementations.base import Call


class TfNnImplementation(Adapter):
    """``tf.nn.(sparse_)softmax_cross_entropy_with_logits``; no weights, ignore_index, smoothing."""

    name = "tensorflow.nn"
    framework = "tensorflow"

    def __init__(self) -> None:
        self._tf = frameworks.tensorflow()

    def limits(self, call: Call) -> str | None:
        """What the two ``tf.nn`` ops cannot express."""
        if call.has_weight:
            return "tf.nn's softmax cross-entropy has no class weights"
        if call.uses_ignore_index:
            return "tf.nn's softmax cross-entropy has no ignore_index"
        if call.label_smoothing != 0.0:
            return "tf.nn's softmax cross-entropy has no label smoothing"
        return None

    def versions(self) -> dict[str, str]:
        """TensorFlow's version."""
        return {"tensorflow": str(self._tf.__version__)}

    def _loss(self, logits: Any, labels: Any, call: Call) -> Any:
        nn = self._tf.nn
        if call.target_kind == "probabilities":
            losses = nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        else:
            losses = nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        return user_reduction(losses, call.reduction, self._tf.reduce_sum, self._tf.reduce_mean)

    def evaluate(self, args: Arguments, call: Call) -> Result:
        """The ``tf.nn`` loss on class-last logits, reduced as a user would; the gradient
        through ``tf.GradientTape``."""
        x, t, _ = args.cast()
        return classes_last_value_and_grad(lambda z, y: self._loss(z, y, call), x, t, call,
                                           args.device)
