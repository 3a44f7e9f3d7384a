"""Evaluations as gates: datasets, request rendering, offline evaluators, the async runner's pure
parts, gate statistics (thresholds, paired bootstrap A/B) and reports. No SDK imports here: the
optional azure-ai-evaluation adapter imports its package inside functions."""
