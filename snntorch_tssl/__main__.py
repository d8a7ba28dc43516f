"""``python -m snntorch_tssl``: the training command line (see :mod:`snntorch_tssl.experiments.cli`)."""

from snntorch_tssl.experiments.cli import main

raise SystemExit(main())
