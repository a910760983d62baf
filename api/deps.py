"""Request dependencies: everything a route needs comes from ``app.state`` through these (no globals)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from api.i18n import Translator
from hub.db import Database
from hub.settings import Settings
from index.backend import SearchBackend


def get_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    """The store of this app."""
    database: Database = request.app.state.database
    return database


def get_session(request: Request) -> Iterator[Session]:
    """A store session for one request (read-mostly: committed at the end, rolled back on error)."""
    with get_database(request).session() as session:
        yield session


def get_backend(request: Request) -> SearchBackend:
    """The configured search backend."""
    backend: SearchBackend = request.app.state.backend
    return backend


def get_templates(request: Request) -> Jinja2Templates:
    """The portal's Jinja2 templates."""
    templates: Jinja2Templates = request.app.state.templates
    return templates


def get_translator(request: Request) -> Translator:
    """Messages in the language chosen for this request (set by the language middleware)."""
    language: str = getattr(request.state, "language", get_settings(request).web.language)
    return Translator(language)


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]
SessionDep = Annotated[Session, Depends(get_session)]
BackendDep = Annotated[SearchBackend, Depends(get_backend)]
TemplatesDep = Annotated[Jinja2Templates, Depends(get_templates)]
TranslatorDep = Annotated[Translator, Depends(get_translator)]
