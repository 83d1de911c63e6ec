"""Charts: figure data (pure) and its matplotlib drawing (``*_mpl``)."""
