"""Training: token files in, a trained GPT out, with every number MLflow needs on the way.

data.py reads the memory-mapped token files as windows, module.py is the LightningModule,
trainer.py assembles the Lightning Trainer, evaluate.py measures the result.
"""
