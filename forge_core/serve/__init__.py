"""`forge serve`: a registered model behind the OpenAI HTTP API (api.py), its requests decoded
together in batches by one engine thread that owns the model (engine.py)."""
