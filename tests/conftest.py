"""What the test modules share.

**Groups under pytest-xdist.** With ``-n auto`` the tests are spread over the workers as
``--dist loadgroup`` spreads them: the tests marked ``xdist_group(NAME)`` go to one worker, the
others wherever a worker is free. A group shares something expensive that a module builds once
per process (one interpreter running every repro snippet of one implementation,
``tests/test_repro_published.py``); spread over two workers it would be built twice. An
explicit ``--dist`` other than ``load`` is left alone, and without xdist nothing changes.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``loadgroup`` where xdist would use ``load`` (its default for ``-n``)."""
    if config.getoption("dist") != "load":
        return None
    from xdist.scheduler import LoadGroupScheduling

    return LoadGroupScheduling(config, log)
