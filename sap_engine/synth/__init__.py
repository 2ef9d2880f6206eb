"""Synthetic study generators calibrated to published results.

``sap_engine.synth.proderm`` builds the ProDERM cutaneous post-hoc study (95 subjects,
IVIg vs placebo, weeks 0-40) reproducing the figures of ``published.json``; run it as
``python -m sap_engine.synth proderm --out data/proderm``.
"""
