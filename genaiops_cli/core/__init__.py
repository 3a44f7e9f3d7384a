"""The domain: manifest, releases, plans, strategies, gates. No cloud SDK is imported here;
providers/ talk to Azure and Docker, core/ decides what should happen."""
