"""The conformance suite as pytest tests: ``python -m pytest --pyargs conformance.testsuite
--ce-impl NAME`` (see ``conformance.pytest_plugin``). A plugin author's own test suite collects
it with a one-line test module next to its tests::

    from conformance.testsuite.test_implementation import test_property, test_spec  # noqa: F401
"""
