"""The only place azure.*, docker and openai are imported — inside functions, so that importing a
provider module stays cheap and commands pay for an SDK only when they call it."""
