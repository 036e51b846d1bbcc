"""changeboard: change & release analytics for IT service management."""

__version__ = "0.1.0"
