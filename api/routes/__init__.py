"""Routers of the web app: health, public portal pages, JSON API."""
