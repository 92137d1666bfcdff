"""The ops kit: Prometheus rules and Grafana dashboards for fastprom's own metrics.

Everything here is built from :mod:`fastprom.ops.catalog`, which reads metric names, types and
labels from the code that registers them, so that a rule or panel cannot name a metric fastprom
does not record.
"""
