"""Network architectures: DCGAN, the SNGAN ResNet, small MLPs and the embedded MNIST networks."""
