"""The jobs the commands do, one module per job: recordings in, models and results out.

They join the I/O edge (:mod:`wordrec.io`) and the numeric core
(:mod:`wordrec.core`), run work in worker processes
(:mod:`wordrec.jobs.parallel`), never print (:mod:`wordrec.jobs.events`), and
turn a bad recording into a :class:`wordrec.jobs.featurise.Failure` instead of
stopping a batch.
"""
