"""Stage 4: sections -> one issue; the command line, kernels, reconciliation and new-quarter scaffold."""
