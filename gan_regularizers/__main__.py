"""``python -m gan_regularizers`` runs the command-line interface."""

from gan_regularizers.cli import main

raise SystemExit(main())
