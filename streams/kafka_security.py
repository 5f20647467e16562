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
