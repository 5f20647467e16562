"""The worker's state on Kafka: versioned state records, the window and merge state, the
RocksDB view, and the offsets the committed state stands at."""
