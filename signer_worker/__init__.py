"""Signer worker: holds users' secret keys and answers signing requests with headers only."""
