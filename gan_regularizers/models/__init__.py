"""Network architectures: DCGAN and the small embedded MNIST networks."""
