"""Metrics that judge a GAN: Fréchet distances, LPIPS diversity, mode coverage."""
