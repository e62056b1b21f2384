"""The MLflow pyfunc of a Forge model ("models from code": MLflow stores this file and runs it at
load time, instead of unpickling an object). Input: a column `prompt`; output: a column `text`."""

from typing import Any

import mlflow
import pandas as pd


class ForgeLanguageModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        from forge_core.export import device_for_serving, load_bundle

        a = context.artifacts
        self.model, self.tokenizer = load_bundle(a["weights"], a["tokenizer"], a["config"], device_for_serving())

    # pd.DataFrame, evaluated at class creation (no `from __future__ import annotations` here): MLflow
    # takes it as "no schema from hints" and uses the logged signature, where any other hint, or none,
    # makes it warn on every load.
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        from forge_core.export import generate_text

        column = "prompt" if "prompt" in model_input else model_input.columns[0]
        prompts = [str(p) for p in model_input[column].tolist()]
        return pd.DataFrame({"text": generate_text(self.model, self.tokenizer, prompts, **(params or {}))})


mlflow.models.set_model(ForgeLanguageModel())
