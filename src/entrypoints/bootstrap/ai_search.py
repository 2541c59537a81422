"""AI product search wiring: the recommendation use case (the conversation history is per request)."""

from __future__ import annotations

from dishka import Provider, Scope, provide

from core.ports.language_model import LanguageModel
from core.ports.metrics import Metrics
from core.use_cases.recommend_products import RecommendationSettings, RecommendProducts, model_is_capable
from entrypoints.bootstrap.inference import metered
from entrypoints.bootstrap.settings import Settings


class AiSearchProvider(Provider):
    scope = Scope.APP

    @provide
    def recommend_products(self, model: LanguageModel, metrics: Metrics, settings: Settings) -> RecommendProducts:
        capable = model_is_capable(settings.model_repo_id, remote_engine=settings.llm_base_url is not None)
        # MAX_TOKENS bounds every generation of the service, AI answers included.
        answer_tokens = min(RecommendationSettings().max_answer_tokens, settings.max_tokens)
        return RecommendProducts(
            metered(model, metrics),
            RecommendationSettings(
                answer_mode=settings.ai_answer_mode, model_is_capable=capable, max_answer_tokens=answer_tokens
            ),
        )
