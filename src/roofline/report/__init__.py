"""Renderers: they turn results into what people read, and compute nothing.

* ``charts/``   — each chart as pure figure data (``roofline``, ``timeline``, ``plan``) and its
  matplotlib drawing beside it (``*_mpl``; matplotlib is imported only there).
* ``text/``     — terminal tables (rich) and Markdown of each result: classify, plan, trace plan,
  fleet, and the one-line summary texts they share.
* ``document/`` — shareable reports: a format-free document model, the sections of each result,
  and its HTML and Markdown writers.
* ``annotate``  — verdicts written back into a trace for Perfetto; ``views`` — notebook views of
  results (``_repr_html_``, DataFrame rows); ``matching`` — the kernel group a timeline event belongs to.
"""
