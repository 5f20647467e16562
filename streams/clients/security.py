"""Kafka security settings (SASL, TLS) handed to each client library the way it wants them."""

from __future__ import annotations

import ssl
from typing import Any

from streams.config import Settings


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if not settings.security_protocol.endswith("SSL"):
        return None
    return ssl.create_default_context(cafile=settings.ssl_cafile or None)


def faust_credentials(settings: Settings) -> Any:
    """`broker_credentials` for the Faust app (None: plaintext)."""
    import faust  # here: the admin and generator paths need no Faust

    context = _ssl_context(settings)
    if settings.security_protocol.startswith("SASL"):
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password,
            mechanism=settings.sasl_mechanism,
            ssl_context=context,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def kafka_python_config(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for kafka-python clients (admin, producer, consumer)."""
    config: dict[str, Any] = {"security_protocol": settings.security_protocol}
    if settings.security_protocol.startswith("SASL"):
        config |= {
            "sasl_mechanism": settings.sasl_mechanism,
            "sasl_plain_username": settings.sasl_username,
            "sasl_plain_password": settings.sasl_password,
        }
    if settings.security_protocol.endswith("SSL") and settings.ssl_cafile:
        config["ssl_cafile"] = settings.ssl_cafile
    return config


class KafkaAuthError(RuntimeError):
    """The brokers refused the configured credentials; the message says who, where and why."""


def check_credentials(settings: Settings) -> None:
    """Authenticate once against the first bootstrap server, before any client retries forever.

    Kafka clients report refused SASL credentials as a failure to bootstrap, and retry; a
    worker started with a wrong password must instead stop at once with the broker's reason."""
    if not settings.security_protocol.startswith("SASL"):
        return
    import asyncio

    from aiokafka.conn import create_conn
    from aiokafka.errors import SaslAuthenticationFailed

    host, _, port = settings.bootstrap.split(",")[0].strip().rpartition(":")

    async def attempt() -> None:
        conn = await create_conn(
            host,
            int(port),
            security_protocol=settings.security_protocol,
            sasl_mechanism=settings.sasl_mechanism,
            sasl_plain_username=settings.sasl_username,
            sasl_plain_password=settings.sasl_password,
            ssl_context=_ssl_context(settings),
        )
        conn.close()

    try:
        asyncio.run(attempt())
    except SaslAuthenticationFailed as exc:
        reason = str(exc).split(": ", 1)[-1]
        raise KafkaAuthError(
            f"Kafka authentication failed for user {settings.sasl_username!r} at {host}:{port} "
            f"({settings.security_protocol}, {settings.sasl_mechanism}): {reason}"
        ) from None
