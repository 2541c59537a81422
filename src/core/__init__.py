"""Marketplace AI backend: business rules with no framework imports."""
