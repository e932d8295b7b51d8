"""Datasets: the embedded mnist5k digits, image folders, CelebA and synthetic sets."""
