"""``ars.json``: the run as a CDISC Analysis Results Standard v1.0 ReportingEvent
(render/ars_build.py builds it from the ARD and the plan; docs/ars.md gives the mapping).

JSON has no escaping concern of the document kind (plan text is a JSON string, escaped by
the encoder), hence ``environment.NONE``. The bytes are a function of the ARD and the plan
alone (keys in a fixed order, no time of writing), so ``sap-run render`` writes the same
file and ``SOURCE_DATE_EPOCH`` runs are byte-identical.
"""

from __future__ import annotations

import json
from typing import BinaryIO

from sap_engine import ard as ard_file
from sap_engine.render import environment
from sap_engine.render.ars_build import build
from sap_engine.render.format import ROUNDING
from sap_engine.render.writers.registry import Document, Writer, register


def write(document: Document, out: BinaryIO) -> None:
    table = document.ard
    if table is None:  # a Document built without its ARD (a caller of the old signature)
        raise RuntimeError("the ARS writer needs the ARD")
    plan = document.plan
    # Formatted values follow the document's rounding rule, as its tables do.
    token = ROUNDING.set(plan.document.rounding if plan.document else "half_away_from_zero")
    try:
        event = build(plan, table.to_pandas(), ard_file.metadata(table))
    finally:
        ROUNDING.reset(token)
    text = json.dumps(event, indent=1, ensure_ascii=False, allow_nan=False)
    out.write((text + "\n").encode("utf-8"))


WRITER = register(Writer("ars", ".json", environment.NONE, write, stem="ars"))
