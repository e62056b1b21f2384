"""Evaluation on questions: a company's own (questions.py) and lm-evaluation-harness tasks
(harness.py), both scored by the same log-likelihoods and greedy generations (likelihood.py), so
the two report the same number on the same questions."""
