"""The MLflow pyfunc of a Forge model ("models from code": MLflow stores this file and runs it at
load time, instead of unpickling an object). Input: a column `prompt`; output: a column `text`."""

from __future__ import annotations

import warnings
from typing import Any

import mlflow
import pandas as pd

# The logged signature is the schema (a `prompt` column in, `text` out, generation params); MLflow
# would rather read one from type hints and says so on every load.
warnings.filterwarnings("ignore", message=r".*Add type hints to the `predict` method")


class ForgeLanguageModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        from forge_core.export import device_for_serving, load_bundle

        a = context.artifacts
        self.model, self.tokenizer = load_bundle(a["weights"], a["tokenizer"], a["config"], device_for_serving())

    # No type hints on predict: MLflow would read them as a schema; the logged signature is the schema.
    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201
        from forge_core.export import generate_text

        if isinstance(model_input, pd.DataFrame):
            prompts = model_input["prompt" if "prompt" in model_input else model_input.columns[0]].tolist()
        elif isinstance(model_input, str):
            prompts = [model_input]
        else:
            prompts = list(model_input)
        return pd.DataFrame(
            {"text": generate_text(self.model, self.tokenizer, [str(p) for p in prompts], **(params or {}))}
        )


mlflow.models.set_model(ForgeLanguageModel())
