"""The calibrated synthetic ProDERM study (not part of the engine wheel).

``studies.proderm.study`` builds the ProDERM cutaneous post-hoc study (95 subjects,
IVIg vs placebo, weeks 0-40) reproducing the figures of ``published.json``; run it from the
repository root as ``python -m studies.proderm --out data/proderm``.
"""
