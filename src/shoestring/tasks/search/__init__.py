"""Semantic search: a persistent index of embedded texts (:mod:`~shoestring.tasks.search.index`)."""
