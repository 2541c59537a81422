"""Adapters: implementations of the core ports with real technologies."""
