"""Device names: the contract says ``cpu`` and ``cuda`` (torch's words); ``gpu`` is an alias."""

from __future__ import annotations


def canonical_device(device: str) -> str:
    """``cuda`` for ``cuda`` and ``gpu``; any other name unchanged."""
    return "cuda" if device == "gpu" else device
