"""The thin training loop (the paper's Algorithm 1, generalised), its config and outputs."""
