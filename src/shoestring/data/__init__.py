"""Data in: read corpora, tokenize, build vocabularies, and write compact prepared artifacts."""
