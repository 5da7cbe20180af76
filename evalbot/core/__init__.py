"""Pure core: models, statistics and the comparison; no I/O, no environment, no clients."""
