"""The model: what it is (architecture.py: GPTConfig and the presets, torch-free), the network
(gpt.py, one file), what training it costs (sizing.py, torch-free) and `forge size`'s advice
(advice.py). Import from the submodules, so that naming a preset or sizing a run loads no torch.
"""
