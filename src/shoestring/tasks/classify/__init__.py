"""Few-label text classification: a Seq2Vec encoder, optionally concatenated with VAMPIRE, and a linear head.

- :mod:`.config`: ``ClassifierConfig``; :mod:`.encoders`: bag of embeddings, CNN, BiLSTM/BiGRU;
- :mod:`.model`: the network; :mod:`.estimator`: ``TextClassifier`` (fit / predict / predict_proba / evaluate).
"""
