"""Provider adapters: one package per provider, found through entry points."""
