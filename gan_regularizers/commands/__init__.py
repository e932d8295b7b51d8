"""Sub-commands of the gan-regularizers command line, one module each."""
