"""The report: one self-contained HTML page with figures, plus Markdown and LaTeX tables."""
