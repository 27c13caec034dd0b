"""The local stack: moto + the real handlers, built from template.yaml."""
