"""The conformance suite as pytest tests: ``python -m pytest --pyargs conformance.testsuite
--ce-impl NAME`` (see ``conformance.pytest_plugin``). A plugin author's own test suite can
collect it with a two-line ``conftest.py``::

    pytest_plugins = ["conformance.pytest_plugin"]    # only if the entry point is not installed
    collect_ignore_glob = []                           # then: pytest --pyargs conformance.testsuite
"""
