"""The writers of the results document, one module per format (see :mod:`.registry`).

Importing this package registers the built-in formats, in this order (HTML, Markdown,
the CDISC ARS ReportingEvent ``ars.json``): the order of the files a run lists.
"""

from sap_engine.render.writers import html, markdown  # noqa: F401  (they register)

# isort: split
# After the documents: the order of the files a run lists.
from sap_engine.render.writers import ars  # noqa: F401
from sap_engine.render.writers.registry import (
    Document,
    Writer,
    register,
    registered,
    unregister,
)

__all__ = ["Document", "Writer", "register", "registered", "unregister"]
