"""The writers of the results document, one module per format (see :mod:`.registry`).

Importing this package registers the built-in formats, in this order: the order of the
files a run lists.
"""

from sap_engine.render.writers import html, markdown  # noqa: F401  (they register)
from sap_engine.render.writers.registry import (
    Document,
    Writer,
    register,
    registered,
    unregister,
)

__all__ = ["Document", "Writer", "register", "registered", "unregister"]
