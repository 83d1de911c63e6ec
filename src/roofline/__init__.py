"""roofline: roofline diagnosis of GPU workloads and ordered, quantified optimization plans."""

__version__ = "0.1.0"
