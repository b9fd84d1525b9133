"""``shoestring label CORPUS --labels a,b,c``: label documents in the browser with active learning.

- :mod:`.session`: the corpus, the model (or VAMPIRE pre-trained on the corpus), the cached features, the
  :class:`~shoestring.tasks.active.learner.ActiveLearner`, the label store and the background retraining;
- :mod:`.server`: the FastAPI app, routes only (token, size limit and error handling included);
- ``page.html``: the one page, vanilla JavaScript and CSS inline, no network beyond this server.

The labels themselves live in :mod:`shoestring.tasks.active.store` (SQLite); exports and imports in
:mod:`shoestring.tasks.active.formats`.
"""
