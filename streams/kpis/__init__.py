"""The KPI core: pure logic, no Faust and no clock (see `engine`).

Its modules may run compiled (`python -m streams.native build`). A build older than its
sources is not used: importing the package warns and runs the Python modules instead, so
the code that runs is always the code in the tree."""

from streams.native import checked_import

COMPILED = checked_import(__name__)
"""Whether this process runs the compiled core (else its Python modules)."""
