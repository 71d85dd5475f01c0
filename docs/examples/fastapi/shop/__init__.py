"""A tiny shop served by FastAPI: main.py is the app, stock.py what it sells."""
