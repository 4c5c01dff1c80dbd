"""cutover: Salesforce production deployment runbooks as software."""

__version__ = "0.1.0"
