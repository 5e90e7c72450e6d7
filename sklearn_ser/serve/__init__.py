"""Serving a fitted model over HTTP, with a page to use it from a browser.

Needs the ``serve`` extra (FastAPI, uvicorn and python-multipart):
``pip install 'sklearn-ser[serve]'``. ``sklearn-ser serve MODEL`` runs the
application that :func:`create_app` returns under uvicorn.
"""

from ._app import create_app

__all__ = ["create_app"]
