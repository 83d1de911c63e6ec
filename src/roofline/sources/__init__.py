"""Readers turn input files into typed records. Each registers itself with a sniffer; the
format of an input is recognised from its content, not trusted from its extension.
"""

from roofline.sources.base import LoadedInput, read_input, register_reader, registered_readers

__all__ = ["LoadedInput", "read_input", "register_reader", "registered_readers"]
