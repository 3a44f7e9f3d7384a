"""The local Azure stand-in: spec-checked ARM + ACR over a real registry and a real Docker engine.

Shipped as the `sandbox` extra. Nothing here is imported by commands at module level."""
