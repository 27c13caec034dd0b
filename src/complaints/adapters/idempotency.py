"""Once per Idempotency-Key: Powertools Idempotency with its DynamoDB persistence layer.

The first request with a key runs and its answer is kept (for `expires_after_s`); a retry with the same key and
the same body gets that answer again, without running anything. The same key with another body is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from pydantic import BaseModel, field_serializer

from complaints.domain.errors import IdempotencyKeyReused, RequestInProgress, TemporarilyUnavailable

# Long enough for a phone that lost its connection to retry; short enough that kept answers (they hold the
# receipt) do not pile up: DynamoDB's TTL deletes them.
KEEP_ANSWERS_SECONDS = 24 * 3600

In = TypeVar("In", bound=BaseModel)
Out = TypeVar("Out", bound=BaseModel)


class Keyed(BaseModel):
    """What the idempotency record is made from: the key names it, the payload's hash guards it."""

    key: str
    payload: BaseModel

    @field_serializer("payload")
    def _as_sent(self, payload: BaseModel) -> dict:
        # Absent fields stay absent, as in the body: the hash of a body is the one kept before this was a model.
        return payload.model_dump(mode="json", exclude_none=True)


class OncePerKey(Generic[In, Out]):
    """`run(key, payload)` calls `fn(payload)` at most once per key (per `name`) and returns its answer, kept and
    given back as the model `fn` returns (Powertools' PydanticSerializer)."""

    def __init__(
        self,
        name: str,
        fn: Callable[[In], Out],
        answer: type[Out],
        table_name: str,
        expires_after_s: int = KEEP_ANSWERS_SECONDS,
    ) -> None:
        self.config = IdempotencyConfig(
            event_key_jmespath="key", payload_validation_jmespath="payload", expires_after_seconds=expires_after_s
        )
        persistence = DynamoDBPersistenceLayer(table_name=table_name)

        @idempotent_function(
            data_keyword_argument="request",
            persistence_store=persistence,
            config=self.config,
            key_prefix=name,
            output_serializer=PydanticSerializer(answer),
        )
        def call(request: Keyed) -> Out:
            return fn(request.payload)

        self._call = call

    def register_context(self, context: Any) -> None:
        """With the Lambda context, a request whose function died mid-way stops blocking its key at the timeout."""
        self.config.register_lambda_context(context)

    def run(self, key: str, payload: In) -> Out:
        try:
            return self._call(request=Keyed(key=key, payload=payload))
        except IdempotencyValidationError as e:
            raise IdempotencyKeyReused("this Idempotency-Key was already used with a different body") from e
        except IdempotencyAlreadyInProgressError as e:
            raise RequestInProgress("a request with this Idempotency-Key is in progress; retry shortly") from e
        except IdempotencyPersistenceLayerError as e:
            raise TemporarilyUnavailable("the complaint could not be stored; please try again") from e
