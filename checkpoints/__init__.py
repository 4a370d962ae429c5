"""The trained models that ship with latent-explorer (weights, histories, atlases, model cards)."""
