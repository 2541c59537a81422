"""The Transformers + torch language model adapter (torch is imported lazily, at model load)."""

from adapters.llm.transformers_model import TransformersLanguageModel, TransformersModelSettings

__all__ = ["TransformersLanguageModel", "TransformersModelSettings"]
