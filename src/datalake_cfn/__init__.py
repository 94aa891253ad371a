"""datalake: a secure, zoned, event-driven data lake on AWS that also runs whole on one machine."""

__version__ = "0.1.0"
