"""Word-level language models whose output layer does not have to be a V-way softmax (ELMo-C, Li et al. 2019).

A bidirectional LSTM language model (ELMo) spends most of its parameters and time in the softmax over the
vocabulary. This package holds, one idea per module:

- :mod:`.outputs`: the output layers, all with ``forward(hidden (N, h), target ids (N,)) -> loss``:
  ``FullSoftmax``, ``AdaptiveSoftmax``, ``SampledSoftmax`` and ELMo-C's ``ContinuousOutput``, which predicts the
  target word's pre-trained embedding (cosine, max-margin or von Mises-Fisher loss);
- :mod:`.vmf`: the von Mises-Fisher log-normaliser log C_m(κ) and its gradient, stable at m = 300;
- :mod:`.targets`: the frozen target embeddings (domain PPMI vectors, GloVe, or FastText trained on the user's
  texts), with sub-word vectors for words outside the table;
- :mod:`.config`: ``LMConfig``, the settings (and the CLI options of ``shoestring pretrain lm``);
- :mod:`.data`: texts -> frequency-sorted vocabulary -> one id stream -> windows for both directions;
- :mod:`.model`: ``BiLM``, ELMo's forward and backward LSTMs sharing the input and output layers;
- :mod:`.learner`: the loss and the evaluation (perplexity; rank of the true word) for the one training loop;
- :mod:`.estimator`: ``LanguageModel``, the estimator: ``fit(texts)``, ``transform(texts)``, ``predict_words``,
  ``save_pretrained``; an Embedder, so ``embed``, the few-label recipe, STS and active learning can use it.
"""
