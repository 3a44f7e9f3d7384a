"""genaiops.yaml v1: the typed model (model.py), a safe position-keeping YAML reader
(yamlnodes.py), `${VAR}` interpolation (interpolate.py), diagnostics that turn validation
errors into located issues (diagnostics.py), cross-field rules (rules.py), the loader that ties
them together (loader.py) and the published JSON Schema (schema.py).

Nothing is imported here on purpose: `genaiops --help` must not pay for pydantic."""
