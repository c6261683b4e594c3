"""guanxi (关系): social CRM and marketing automation."""

__version__ = "0.1.0"
