"""The local Azure stand-in: spec-checked ARM + ACR over a real registry and a real Docker engine.

Its own distribution (`genaiops-sandbox`). It shares one contract with the genaiops CLI: the
connection profile it writes (profile.py, documented in docs/sandbox.md of the genaiops repository)."""

__version__ = "0.3.0"
