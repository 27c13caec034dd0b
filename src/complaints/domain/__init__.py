"""The domain core: tickets, the desk service, routing rules. Imports no boto3."""
