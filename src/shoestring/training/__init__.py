"""The one training loop every learner uses (:class:`Trainer`), its callbacks, and distributed helpers."""
