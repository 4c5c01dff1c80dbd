"""orgsim: a local Salesforce org emulator that the unmodified sf CLI logs into, deploys to and tests against."""

__version__ = "0.1.0"
