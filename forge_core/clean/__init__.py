"""Cleaning: the steps that turn extracted text into training text.

pipeline.py lists the steps in the order they run (RULES) and runs them over a shard; each rule's
function, config and ledger reasons live together in the rule's own module (normalize.py,
language.py, pii/, length.py, gopher.py, c4.py, fineweb.py).
"""
