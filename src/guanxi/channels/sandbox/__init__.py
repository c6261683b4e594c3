"""The sandbox connector: an in-process stand-in provider for the demo and tests."""
