"""The version of roofline, in a module of its own so that any module can import it without
importing the package root (which resolves the Python API lazily)."""

__version__ = "0.1.0"
