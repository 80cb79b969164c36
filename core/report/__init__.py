"""The report kit: figures a student collects from any page, kept on disk, exported as one ZIP.

Modules:
    figure   the record of one collected figure (title, caption, settings, page, exercise, link, kind) and its key
    chart    a plotly figure's dict (``fig.to_dict()``) read into plain arrays, and its data as one long table
    render   the files of a figure drawn with matplotlib from the same data (PNG, PDF, SVG, CSV)
    store    one browser session's collection: a folder with an atomically written index
    export   the page estimate, report.tex, report.md, report.pdf and the ZIP

No Streamlit here: `explorer/report_ui.py` draws the buttons and the Report page.
"""
