"""Benchmark protocols (few-label classification) and the baselines they compare against."""
