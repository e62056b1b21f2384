"""A trained model, out: bundle.py writes and reads the folder of files a model is (safetensors
weights, tokenizer, config); pyfunc.py logs and registers that folder in MLflow as a pyfunc.

Export depends on forge_core.model, never the other way.
"""

_REGISTERED_BEFORE_THE_PACKAGE = ("load_bundle", "device_for_serving", "generate_text")


def __getattr__(name: str):
    # A model version registered before export/ was a package keeps its own copy of the pyfunc code,
    # which runs `from forge_core.export import load_bundle, device_for_serving, generate_text` at
    # load; those names still resolve, lazily, so that importing the package loads no torch.
    if name in _REGISTERED_BEFORE_THE_PACKAGE:
        from forge_core.export import bundle

        return getattr(bundle, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
