"""Networks, checkpoint I/O and the Qt-free engine of latent-explorer."""
