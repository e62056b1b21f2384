"""Models in and out of the formats other tools read: Hugging Face checkpoint folders
(huggingface.py: import a base model, export any Forge model) and llama.cpp's GGUF (gguf_file.py).

Nothing here touches the network: a checkpoint is a local folder, and every file it needs is
named in the error when it is missing.
"""
