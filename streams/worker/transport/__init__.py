"""Faust and Kafka transport the worker builds on: batch delivery, read-committed
recovery, the outbox, transactions and group membership."""
