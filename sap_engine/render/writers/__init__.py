"""The writers of the results document, one module per format (see :mod:`.registry`).

Importing this package registers the built-in formats, in this order (HTML, Markdown, RTF,
DOCX, then the CDISC ARS ReportingEvent ``ars.json``): the order of the files a run lists.
"""

from sap_engine.render.writers import html, markdown  # noqa: F401  (they register)

# isort: split
from sap_engine.render.writers import rtf  # noqa: F401  (registered third: RTF after Markdown)

# isort: split
from sap_engine.render.writers import word  # noqa: F401  (the DOCX report, the last document)

# isort: split
# After the documents: the order of the files a run lists.
from sap_engine.render.writers import ars  # noqa: F401

# isort: split
from sap_engine.render.writers.registry import (
    Document,
    Part,
    Writer,
    register,
    registered,
    unregister,
)

__all__ = ["Document", "Part", "Writer", "register", "registered", "unregister"]
