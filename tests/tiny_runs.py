"""The smallest training run the tests use (4-wide DCGAN on 16 synthetic images), written once."""

TINY = {
    "data": "synthetic:num_images=16",
    "batch_size": 8,
    "g_width": 4,
    "d_width": 4,
    "z_dim": 8,
    "num_samples": 4,
    "quiet": True,
    "tensorboard": False,
}
