"""genaiops: a GenAIOps orchestrator for Azure Container Apps, ACR and AI Foundry."""

__version__ = "0.1.0"
