"""Study generators: synthetic data calibrated to published trials (not part of the engine).

They live beside ``sap_engine`` rather than inside it, so that the engine wheel ships no
study's data or generator; run them from the repository root, e.g.
``python -m studies.proderm --out data/proderm``.
"""
