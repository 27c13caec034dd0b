"""Developer tools: training, the local stack, the `complaints` command."""
