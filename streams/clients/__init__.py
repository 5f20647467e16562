"""Kafka clients the worker and the command line share: security settings, topic admin,
reading a topic to its end, and the broker reachability check."""
