"""Built-in plugins of gan-regularizers, each loaded through its entry point like any other."""
