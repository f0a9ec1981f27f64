"""``python -m vecprop``: the command line."""
from vecprop.cli import main

raise SystemExit(main())
