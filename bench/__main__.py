"""``python -m bench``: run every scenario once and print the results table."""

from bench.run import main

raise SystemExit(main())
