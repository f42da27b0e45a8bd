"""dpn: consistent, valid names for a data platform's AWS and Databricks resources."""

__version__ = "0.2.0"
