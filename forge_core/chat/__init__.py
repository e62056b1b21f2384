"""Conversations for fine-tuning: the chat template a model's conversations are written in
(template.py) and the tokens the loss is taken on (masks.py)."""
