"""Acting on an erasure request (GDPR Art. 17) for documents that reached dataset and model
versions: find them (matching.py), record the request without keeping what it erases (request.py),
rebuild each dataset version without them and retire the old one (rebuild.py), hold the models
trained on them (holds.py), delete their content everywhere in the workspace and prove it with a
scan (scrub.py)."""
