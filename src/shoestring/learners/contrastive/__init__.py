"""Contrastive learning of sentence embeddings: one loss (:mod:`~shoestring.learners.contrastive.loss`) that
pulls the embeddings of positive pairs together and pushes the rest of the batch away, and the learners that
build its pairs - from labels (:mod:`~shoestring.learners.contrastive.labels`: SetFit-style few-label
fine-tuning, Tunstall et al. 2022, with the supervised contrastive loss of Khosla et al. 2020).
"""
