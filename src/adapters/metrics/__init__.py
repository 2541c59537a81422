from adapters.metrics.prometheus import PrometheusMetrics

__all__ = ["PrometheusMetrics"]
