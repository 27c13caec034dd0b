"""Weibo adapters: the open API over HTTP, and the poller's ledger in DynamoDB or in memory."""
