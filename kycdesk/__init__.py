"""kycdesk: offline-first KYC case capture."""

__version__ = "0.1.0"
APP_NAME = "kycdesk"
