"""Shared test utilities: tiny offline models (see :mod:`tests.helpers.tiny`)."""
