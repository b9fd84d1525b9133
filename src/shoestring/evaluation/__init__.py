"""Evaluation: topic coherence (NPMI), classification metrics, the HTML report."""
