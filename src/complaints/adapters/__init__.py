"""Adapters at the edges: AWS (boto3) and in-memory implementations of the domain ports."""
