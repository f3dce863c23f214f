"""tensorflow: a port of torch's cross-entropy semantics to TensorFlow ops.

The same algorithm as the ``jax`` port (torch's formulas over ``(M, C)`` rows, class axis last;
see ``implementations.reference``), written independently on ``tf.nn.log_softmax``,
``tf.gather`` and ``tf.where``, so that the two ports check each other. Arguments are checked on
the host first (``implementations.torch_rules``). Every step runs in the requested dtype, as torch's
CPU kernels do (torch's CUDA kernels accumulate half precision in float32).

Eager by default: ``tf.function`` retraces for every new shape and plan, and a conformance suite
draws many. Measured for a (4, 5) float32 call on a 2-core CPU: eager 2.1 ms (6 ms with the
gradient); traced 0.8 ms (2 ms) once traced, but 40-350 ms per trace.
``TfPortImplementation(function=True)`` runs the same code under ``tf.function``.
"""

from __future__ import annotations

import math
from typing import Any

from implementations import frameworks
from implementations._port import reduce_index_terms, reduce_probability_terms
from implementations._tensorflow import device_name, value_and_grad
from implementations.adapter import Adapter, Arguments, Result
from implementations.base import Call
from implementations.torch_rules import CallPlan, plan_call


def _rows(x: Any, class_axis: int) -> Any:
    """``x`` as a ``(M, C)`` matrix, the class axis last (``M`` explicit: ``C`` may be 0)."""
    tf = frameworks.tensorflow()
    rank = len(x.shape)
    perm = [axis for axis in range(rank) if axis != class_axis] + [class_axis]
    rows = math.prod(x.shape[axis] for axis in perm[:-1])
    return tf.reshape(tf.transpose(x, perm), [rows, x.shape[class_axis]])


def _index_losses(logp: Any, target: Any, weight: Any | None, plan: CallPlan) -> tuple[Any, ...]:
    """Per row: ``-w[y] log p[y]``, the smoothing term ``-sum_c w[c] log p[c]``, and ``w[y]``."""
    tf = frameworks.tensorflow()
    zeros = tf.zeros(tf.shape(target), logp.dtype)
    valid = tf.not_equal(target, tf.constant(plan.ignore_index, target.dtype))
    safe = tf.where(valid, target, tf.zeros_like(target))
    has_classes = plan.n_classes > 0
    flat = tf.range(tf.size(safe, out_type=safe.dtype), dtype=safe.dtype) * plan.n_classes + safe
    picked = tf.gather(tf.reshape(logp, [-1]), flat) if has_classes else zeros
    if weight is None:
        w_y = tf.cast(valid, logp.dtype)
        smooth = -tf.reduce_sum(logp, axis=1)
    else:
        w_y = tf.where(valid, tf.gather(weight, safe), zeros) if has_classes else zeros
        smooth = -tf.reduce_sum(logp * weight, axis=1)
    nll = tf.where(valid, -picked * w_y, zeros)
    return nll, tf.where(valid, smooth, zeros), w_y


def _index_loss(logp: Any, target: Any, weight: Any | None, plan: CallPlan) -> Any:
    nll, smooth, w_y = _index_losses(logp, target, weight, plan)
    return reduce_index_terms(nll, smooth, w_y, plan, frameworks.tensorflow().reduce_sum)


def _probability_loss(logp: Any, target: Any, weight: Any | None, plan: CallPlan) -> Any:
    tf = frameworks.tensorflow()
    return reduce_probability_terms(logp, target, weight, plan, tf.reduce_sum,
                                    lambda: tf.constant(float("nan"), logp.dtype))


def _loss(x: Any, target: Any, weight: Any | None, plan: CallPlan) -> Any:
    """torch's loss for tensors on the current device, in ``x``'s dtype."""
    tf = frameworks.tensorflow()
    logp = tf.nn.log_softmax(_rows(x, plan.class_axis), axis=-1)
    if plan.probabilities:
        loss = _probability_loss(logp, _rows(target, plan.class_axis), weight, plan)
    else:
        loss = _index_loss(logp, tf.reshape(target, [-1]), weight, plan)
    if plan.reduction == "none":
        loss = tf.reshape(loss, x.shape[:plan.class_axis] + x.shape[plan.class_axis + 1:])
    return loss


class TfPortImplementation(Adapter):
    """torch's semantics in TensorFlow ops; CPU, and a GPU where TensorFlow sees one."""

    name = "tensorflow"
    framework = "tensorflow"

    def __init__(self, function: bool = False) -> None:
        self._tf = frameworks.tensorflow()
        self._loss = self._tf.function(_loss) if function else _loss

    def versions(self) -> dict[str, str]:
        """TensorFlow's version."""
        return {"tensorflow": str(self._tf.__version__)}

    def evaluate(self, args: Arguments, call: Call) -> Result:
        """torch's cross-entropy with floating arguments cast to ``dtype`` on ``device``; the
        gradient through ``tf.GradientTape``."""
        tf = self._tf
        x, t, w = args.cast()
        plan, t = plan_call(x, t, w, args.ignore_index, args.reduction, args.label_smoothing,
                            gradient=call.gradient)
        with tf.device(device_name(args.device)):
            target, weight = tf.constant(t), None if w is None else tf.constant(w)
            return value_and_grad(lambda z: self._loss(z, target, weight, plan),
                                  tf.constant(x), call.gradient)
