"""One loader per framework: the only place a framework is imported and its process-wide state set.

Each loader is cached: the first call imports the framework (raising ``NotInstalledError``
naming the ce-conformance extra when it is missing) and sets what the framework needs for the
whole process, once; later calls return the module.

* ``torch()``: nothing process-wide.
* ``jax()``: turns on ``jax_enable_x64``, so float64 and int64 stay 64-bit (for every user of
  JAX in the process: the flag is global to JAX). ``optax()`` loads ``jax()`` first.
  ``jax_x64_off()`` is the one exception: a context in which JAX runs at its default
  (``jax.enable_x64(False)``, a thread-local scope that jit caches key on), for the
  ``jax.x64-off`` variant; the process-wide flag stays on for every other user.
* ``jax()`` also turns on JAX's persistent compilation cache, so that compiled programs outlive
  the process (a ``ci`` run compiles a few hundred small programs at 0.1-0.3 s each; the
  workers, the tests and the gates then share them). The folder is ``CE_CONFORMANCE_JAX_CACHE``
  when set (empty, ``0`` or ``off``: no cache), else ``$XDG_CACHE_HOME/ce-conformance/jax``
  (``~/.cache/...``). Every program is stored, however fast it compiled. A folder the user gave
  JAX itself (``JAX_COMPILATION_CACHE_DIR``) is left as it is, with JAX's own thresholds. JAX
  keys entries on the program, its compile options and jax/jaxlib versions, and a cached
  executable computes what a fresh compilation of the same program computes.
* ``tensorflow()`` and ``jax()``: both frameworks' C++ logs read ``TF_CPP_MIN_LOG_LEVEL``
  (TensorFlow logs one warning per invalid label). Before the first import it is set to ``2``
  (errors only) unless the user chose a level. JAX would otherwise set ``1`` on import, which
  would then pass for the user's choice; a framework imported before its loader ran keeps what
  it set.
* ``keras()``: ``KERAS_BACKEND=tensorflow`` unless set, before Keras is first imported (Keras
  fixes its backend then; the keras adapter's ``available()`` says when it is another one).

``gpu_count`` and ``gpu_names`` ask a framework, by name, which GPUs it sees.
"""

from __future__ import annotations

import importlib
import os
import sys
from contextlib import AbstractContextManager
from functools import cache
from pathlib import Path
from typing import Any

from implementations.base import NotInstalledError


def require(module: str, extra: str) -> Any:
    """Import ``module``, or raise ``NotInstalledError`` naming the ce-conformance ``extra``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise NotInstalledError(
            f"not installed: {module} ({exc}); install the extra '{extra}' "
            f"(from a checkout: pip install -e '.[{extra}]'; else: pip install "
            f"'ce-conformance[{extra}] @ git+<repository URL>')"
        ) from None


def _quiet_cpp_logs() -> None:
    """TensorFlow's and XLA's C++ logs: errors only, unless the user chose a level."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@cache
def torch() -> Any:
    """``torch`` (``torch.nn.functional`` loaded)."""
    module = require("torch", extra="torch")
    require("torch.nn.functional", extra="torch")
    return module


@cache
def jax() -> Any:
    """``jax``, with ``jax_enable_x64`` on for the process."""
    _quiet_cpp_logs()
    module = require("jax", extra="jax")
    module.config.update("jax_enable_x64", True)
    _persistent_cache(module.config)
    return module


JAX_CACHE_VARIABLE = "CE_CONFORMANCE_JAX_CACHE"


def jax_cache_dir() -> Path | None:
    """The persistent compilation cache's folder for ``jax()``, or ``None`` when turned off."""
    chosen = os.environ.get(JAX_CACHE_VARIABLE)
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "0", "off") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ce-conformance" / "jax"


def _persistent_cache(config: Any) -> None:
    """Store every compiled program in ``jax_cache_dir()``, unless the user set JAX's own."""
    folder = jax_cache_dir()
    if folder is None or config.jax_compilation_cache_dir is not None:
        return
    config.update("jax_compilation_cache_dir", str(folder))
    config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    config.update("jax_persistent_cache_min_entry_size_bytes", 0)


def jax_x64_off() -> AbstractContextManager[Any]:
    """A context in which JAX computes as it does by default, x64 off (float64 becomes float32,
    int64 int32); outside it ``jax()``'s process-wide x64 holds. JAX 0.10's
    ``jax.enable_x64`` is a configuration state usable as a thread-local context manager."""
    return jax().enable_x64(False)  # type: ignore[no-any-return]


@cache
def optax() -> Any:
    """``optax`` (after ``jax()``)."""
    jax()
    return require("optax", extra="jax")


@cache
def tensorflow() -> Any:
    """``tensorflow``, its C++ warnings quiet unless the user chose a level."""
    _quiet_cpp_logs()
    return require("tensorflow", extra="tensorflow")


@cache
def keras() -> Any:
    """``keras`` on the TensorFlow backend (unless Keras was imported already, or the user
    chose another backend)."""
    if "keras" not in sys.modules:
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    tensorflow()
    return require("keras", extra="tensorflow")


# --- GPUs, as each framework sees them -----------------------------------------------------

def jax_gpus() -> list[Any]:
    """The GPU devices JAX sees (none on a CPU-only jaxlib)."""
    try:
        return list(jax().devices("gpu"))
    except RuntimeError:
        return []


def _tensorflow_gpus() -> list[Any]:
    return list(tensorflow().config.list_physical_devices("GPU"))


def gpu_count(framework: str) -> int:
    """How many GPUs ``framework`` (``torch``, ``jax``, ``tensorflow``; else none) sees."""
    if framework == "torch":
        cuda = torch().cuda
        return int(cuda.device_count()) if cuda.is_available() else 0
    if framework == "jax":
        return len(jax_gpus())
    if framework == "tensorflow":
        return len(_tensorflow_gpus())
    return 0


def gpu_names(framework: str) -> list[str]:
    """The names of the GPUs ``framework`` sees, for provenance."""
    if framework == "torch":
        cuda = torch().cuda
        return [str(cuda.get_device_name(i)) for i in range(gpu_count("torch"))]
    if framework == "jax":
        return [str(device.device_kind) for device in jax_gpus()]
    if framework == "tensorflow":
        details = tensorflow().config.experimental.get_device_details
        return [str(details(gpu).get("device_name", gpu.name)) for gpu in _tensorflow_gpus()]
    return []
