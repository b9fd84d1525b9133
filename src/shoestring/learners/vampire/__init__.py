"""VAMPIRE: variational pre-training of a bag-of-words document representation (Gururangan et al., 2019).

- :mod:`.config`: ``VampireConfig``, the settings (also the CLI's ``pretrain vampire`` options);
- :mod:`.model`: the VAE as a ``torch.nn.Module`` and the exported representation (``VampireEmbedder``);
- :mod:`.learner`: the training objective plugged into the shared training loop;
- :mod:`.estimator`: ``VAMPIRE``, the scikit-learn-style estimator with ``save_pretrained``/``from_pretrained``.
"""
