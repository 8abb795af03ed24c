"""What the pages share, one concern a module. A subfolder, so Streamlit's legacy pages/ mode never lists it as a page.

Pages import it as `from pages.common import ...`; both `streamlit run app.py` and AppTest put
the folder of app.py on sys.path, which makes `pages` importable as a package.
"""
