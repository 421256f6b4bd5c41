"""Multi-survey integration 多测合一: survey projects, deliverables, checks, sharing.

Importing the package registers the shared survey results with "what applies here".
"""

from . import applies as _applies  # noqa: F401  (registers the "surveys" source)
