"""The report: one self-contained HTML page with figures, plus Markdown and LaTeX tables (``html`` assembles
the ``html_*`` sections from ``html_parts``; ``figures*`` draw, ``tables*`` tabulate)."""
