"""Representation learners: each pre-trains a representation on unlabeled domain text."""
