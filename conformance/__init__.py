"""ce-conformance: does an implementation of cross-entropy compute what PyTorch computes?

Design, in the order data flows:

* ``spec/cross_entropy.yaml`` declares every canonical case once (``conformance.spec`` loads
  and validates it into ``conformance.case.Case`` objects); ``conformance.strategies`` generates
  more with Hypothesis. Pytest ids, matrix rows and docs all derive from these cases.
* ``implementations`` holds adapters behind one small contract (``implementations.base``): NumPy
  in, NumPy out, features they cannot express declared with a reason. The NumPy float64
  ``reference`` is the oracle.
* ``conformance.runner`` judges one case on one implementation: the reference is evaluated on
  the arguments rounded to the implementation's dtype, and ``conformance.tolerance`` bounds the
  allowed error from the dtype's round-off and the problem's conditioning. Each judgement is a
  ``conformance.results.Record`` with the measured error, the values, and a repro snippet.
* ``conformance.properties`` adds metamorphic and invalid-input properties and shrinks failures
  to minimal counterexamples; ``conformance.expectations`` marks known divergences (with
  reasons); ``gate`` turns records into an exit status, ``report`` into the published matrix.
"""

__version__ = "0.1.0"
