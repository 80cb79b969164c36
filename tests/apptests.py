"""Opening a page under Streamlit's AppTest with URL parameters, and reading its text (shared by page tests)."""
from streamlit.testing.v1 import AppTest


def open_page(path: str, params: dict, timeout: int = 300) -> AppTest:
    """Run the page with the given URL parameters (widgets read their first value from the URL); no exception."""
    at = AppTest.from_file(str(path), default_timeout=timeout)
    for k, v in params.items():
        at.query_params[k] = str(v)
    at.run()
    assert not at.exception, at.exception
    return at


def page_text(at: AppTest) -> str:
    """Captions, markdown, warnings, infos and errors, one per line."""
    return "\n".join(str(e.value) for e in [*at.caption, *at.markdown, *at.warning, *at.info, *at.error])
