"""Report

The figures you added with "Add to report" on any page, with their captions and your notes: reorder them,
see how many of the four pages they take, and export one ZIP (LaTeX, Markdown, PDF, the images).
"""
from explorer import report_ui, shell

pg = shell.page("Report", intro="Every figure you add from any page lands here, with its caption, the page's "
                "settings and a link that reopens the view. Write a few lines under each, put them in order, "
                "then export: `report.tex` compiles as it is, `report.md` and `report.pdf` have the same content.")
report_ui.report_page(pg.controls)
