"""Pure inference helpers: stop text handling, cancellation racing."""
