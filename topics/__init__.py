"""The contract: topics, records, their schemas and checks (`contract` is the source of truth).

Its per-record modules (validation, checks, partitioning) may run compiled with the KPI core
(`streams.native`); a build older than its sources is not used."""

from streams.native import checked_import

COMPILED = checked_import(__name__)
"""Whether this process runs the compiled per-record modules (else their Python sources)."""
