"""Stage 4: sections -> one issue; the command line, kernels, reconciliation and new-quarter scaffold."""

import sys

# jsonschema (imported by nbformat, papermill and nbconvert) imports rfc3987_syntax, when
# installed, for its "iri" format checker, and that module builds a grammar for ~2 s at
# import. No schema the publisher validates uses that format: keep it out.
sys.modules.setdefault("rfc3987_syntax", None)
