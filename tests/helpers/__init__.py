"""Implementations and data used by the tests of the harness itself."""
