"""auditor: checks S3 buckets that feed ML data platforms against each vendor's set-up guide."""

__version__ = "0.1.0"
