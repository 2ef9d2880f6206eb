"""sap-engine: a declarative statistical analysis plan engine for clinical trials.

The plan *is* the program: a ``.sap`` file is parsed, checked against the data,
compiled into analyses, executed into one analysis results dataset (ARD) and
rendered into documents.
"""

__version__ = "0.1.0"
