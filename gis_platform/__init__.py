"""多规合一 multi-plan integration GIS platform."""

__version__ = "0.1.0"
