"""Domain word vectors: PPMI + truncated SVD of a word co-occurrence matrix (Levy, Goldberg & Dagan, 2015)."""
