"""The decoder-only transformer (gpt.py) and its named sizes (presets.py).

Import from the submodules: presets.py is torch-free so that config validation can name the sizes
without loading torch.
"""
