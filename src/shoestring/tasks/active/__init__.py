"""Active learning: choose which documents a person labels next, and retrain as they label.

- :mod:`~shoestring.tasks.active.strategies`: query strategies (random; least-confidence, margin, entropy;
  k-center greedy and k-means++ seeding for the cold start; cluster-margin and BADGE, uncertain and diverse);
- :mod:`~shoestring.tasks.active.learner`: :class:`ActiveLearner`, the pool's cached features, the labels and a
  warm-started linear head retrained in milliseconds;
- :mod:`~shoestring.tasks.active.simulate`: replay active learning with gold labels as the oracle - learning
  curves, area under the curve, labels needed to reach a target, a stopping criterion;
- :mod:`~shoestring.tasks.active.plot`: the learning curves as an SVG;
- :mod:`~shoestring.tasks.active.store`: the labels of a labeling project in SQLite (leases, events, undo);
- :mod:`~shoestring.tasks.active.formats`: labels out and in - JSONL, CSV, Prodigy, Label Studio.

The labeling web app that puts them together is :mod:`shoestring.apps.label`.
"""
