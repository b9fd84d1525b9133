"""Applications built on shoestring's parts: :mod:`~shoestring.apps.label`, the local web app for labeling
documents with active learning (``shoestring label``). Each needs the ``label`` extra (FastAPI, uvicorn)."""
