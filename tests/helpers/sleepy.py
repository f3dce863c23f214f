"""The reference, slowed down: each call sleeps first, so a run takes long enough to be
interrupted in the middle (the Ctrl-C tests). Loaded as ``tests.helpers.sleepy:Sleepy``."""

from __future__ import annotations

import time
from typing import Any

from implementations.reference import ReferenceImplementation

PAUSE = 0.05  # seconds per call


class Sleepy(ReferenceImplementation):
    """The reference, ``PAUSE`` seconds slower per call."""

    name = "sleepy"

    def cross_entropy(self, *args: Any, **kwargs: Any) -> Any:
        """The reference's loss, after a pause."""
        time.sleep(PAUSE)
        return super().cross_entropy(*args, **kwargs)

    def value_and_grad(self, *args: Any, **kwargs: Any) -> Any:
        """The reference's loss and gradient, after a pause."""
        time.sleep(PAUSE)
        return super().value_and_grad(*args, **kwargs)


class Drowsy(Sleepy):
    """A second slow one, under another name."""

    name = "drowsy"
