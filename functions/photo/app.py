"""Photo: for each photo uploaded straight to S3, check it, derive the clean images, and let the ticket go on.

Driven by the bucket's `ObjectCreated` notifications under `originals/`, through an SQS queue with a DLQ.
"""

from __future__ import annotations

from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from complaints import logs, wiring
from complaints.queue_worker import s3_object_batch_handler

logger = logs.logger()
copy_config_to_registered_loggers(source_logger=logger, include={"complaints"})
photo_uploads = wiring.photo_uploads()
lambda_handler = s3_object_batch_handler(photo_uploads.attach_uploaded_photo, logger)
