"""Tooling for one machine: the local Kafka broker, Prometheus and Alertmanager, and
launching and watching a worker process (the demo, the tests and the benchmark use them)."""
