"""The MLflow pyfunc of a Forge model, and the bundle logged and registered as one.

"Models from code": log_pyfunc hands MLflow this file's path; MLflow stores the file and runs it at
load time (set_model at the bottom names the model) instead of unpickling an object, so loading a
model never unpickles an object that could execute arbitrary code. Input: a column `prompt`;
output: a column `text`.
"""

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

from forge_core.export.bundle import (
    CONFIG,
    GENERATION_DEFAULTS,
    TOKENIZER,
    device_for_serving,
    end_of_text_id,
    generate_text,
    load_bundle,
    weights_file,
)

PYFUNC_CODE = Path(__file__)


class ForgeLanguageModel(mlflow.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        a = context.artifacts
        self.artifacts = dict(a)  # an imported base also carries its Hugging Face files ("hf")
        self.model, self.tokenizer = load_bundle(a["weights"], a["tokenizer"], a["config"], device_for_serving())
        self.eos_id = end_of_text_id(self.tokenizer, a["config"])

    # pd.DataFrame, evaluated at class creation (no `from __future__ import annotations` here): MLflow
    # takes it as "no schema from hints" and uses the logged signature, where any other hint, or none,
    # makes it warn on every load.
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        column = "prompt" if "prompt" in model_input else model_input.columns[0]
        prompts = [str(p) for p in model_input[column].tolist()]
        text = generate_text(self.model, self.tokenizer, prompts, eos_id=self.eos_id, **(params or {}))
        return pd.DataFrame({"text": text})


def pyfunc_files(bundle: Path) -> list[Path]:
    """The files of a bundle the pyfunc keeps (MLflow copies them into its artifacts/ by name)."""
    return [weights_file(bundle), bundle / TOKENIZER, bundle / CONFIG]


def log_pyfunc(bundle: Path, registered_name: str, prompts: list[str], extra: dict[str, str] | None = None) -> Any:
    """Log the bundle as an MLflow pyfunc in the active run and register it; returns MLflow's ModelInfo.
    `extra` names more artifacts (files or folders) to keep with it."""
    from mlflow.models import infer_signature

    example = pd.DataFrame({"prompt": prompts[:2] or ["The"]})
    short = GENERATION_DEFAULTS | {"max_new_tokens": 8}  # MLflow runs the example once to check it serves
    signature = infer_signature(example, pd.DataFrame({"text": ["..."] * len(example)}), params=GENERATION_DEFAULTS)
    return mlflow.pyfunc.log_model(
        name="model",
        python_model=str(PYFUNC_CODE),
        artifacts=dict(zip(("weights", "tokenizer", "config"), map(str, pyfunc_files(bundle)), strict=True))
        | (extra or {}),
        # Forge's own source (the forge_core folder) travels with the model, so it loads where Forge
        # is not installed.
        code_paths=[str(PYFUNC_CODE.parents[1])],
        signature=signature,
        input_example=(example, short),
        pip_requirements=pinned_requirements(),
        registered_model_name=registered_name,
    )


def pinned_requirements() -> list[str]:
    """What the pyfunc needs to run, at the versions it was trained with (never inferred by MLflow,
    which would import-trace the model in a subprocess)."""
    from importlib.metadata import version

    import torch

    torch_version = torch.__version__.split("+", 1)[0]
    packages = ["mlflow", "tokenizers", "safetensors", "numpy", "pandas"]
    return [f"torch=={torch_version}"] + [f"{p}=={version(p)}" for p in packages]


mlflow.models.set_model(ForgeLanguageModel())
