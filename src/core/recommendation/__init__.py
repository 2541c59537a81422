"""Grounded product recommendation: retrieval, prompt, fallback summary."""
