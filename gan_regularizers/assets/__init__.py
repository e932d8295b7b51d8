"""Small weight files shipped inside the package (embedded MNIST networks)."""
