"""Choosing registry backends by name or URL: a built-in table plus an entry-point group.

Third-party packages add backends under the ``optout.registries`` entry-point group; each
entry point names a factory called with keyword options that returns a
:class:`optout.registries.Registry`. Built-in names win over entry points with the same
name, so an installed plugin cannot silently replace a built-in backend.
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import urllib.parse
from collections.abc import Callable
from typing import Any, cast

from optout._errors import ConfigurationError
from optout._registries._base import Registry

__all__ = ["BUILTIN", "DEFAULT_IDS", "ENTRY_POINT_GROUP", "available", "create", "defaults"]

ENTRY_POINT_GROUP = "optout.registries"

#: Built-in backends: name -> "module:factory" (imported on first use).
BUILTIN: dict[str, str] = {
    "us_dnc": "optout._registries.us:us_dnc",
    "us_rnd": "optout._registries.us_rnd:us_rnd",
    "gb_tps": "optout._registries.uk:gb_tps",
    "gb_ctps": "optout._registries.uk:gb_ctps",
    "ca_dncl": "optout._registries.ca:ca_dncl",
    "it_rpo": "optout._registries.it:it_rpo",
    "fr_bloctel": "optout._registries.fr:fr_bloctel",
    "au_dncr": "optout._registries.au:au_dncr",
    "es_robinson": "optout._registries.es:es_robinson",
    "br_nmp": "optout._registries.generic:br_nmp",
    "file": "optout._registries.generic:file_registry",
    "http_json": "optout._registries.generic_http:http_json_registry",
}

#: URL schemes: "<scheme>+https://host/path" -> backend name (the URL is passed as url=).
SCHEMES: dict[str, str] = {
    "robinson": "es_robinson",
    "rnd": "us_rnd",
    "json": "http_json",
}

#: The backends a client uses when given none: every local (file) registry the packs name.
#: Remote ones need credentials and are configured explicitly.
DEFAULT_IDS = (
    "us_dnc",
    "gb_tps",
    "gb_ctps",
    "ca_dncl",
    "it_rpo",
    "fr_bloctel",
    "au_dncr",
    "br_nmp",
)


def _load(target: str) -> Callable[..., Registry]:
    module, _, attr = target.partition(":")
    return cast("Callable[..., Registry]", getattr(importlib.import_module(module), attr))


@functools.cache
def _plugins() -> dict[str, importlib.metadata.EntryPoint]:
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}


def available() -> list[str]:
    """Every backend name: built-in and installed plugins."""
    return sorted(set(BUILTIN) | set(_plugins()))


def create(name_or_url: str, **options: Any) -> Registry:
    """A backend by name (``"it_rpo"``) or URL (``"robinson+https://api.example/"``).

    Raises:
        ConfigurationError: unknown name or scheme, or options the backend refuses.
    """
    if not name_or_url.strip():
        raise ConfigurationError(f"a registry name or URL is needed, got {name_or_url!r}")
    text = name_or_url.strip()
    name = text
    if "://" in text:
        scheme = urllib.parse.urlsplit(text).scheme
        backend, plus, transport = scheme.partition("+")
        if not plus or backend not in SCHEMES or transport not in ("http", "https"):
            raise ConfigurationError(
                f"unknown registry URL scheme {scheme!r}; use one of "
                f"{', '.join(f'{s}+https' for s in sorted(SCHEMES))}"
            )
        name = SCHEMES[backend]
        options = {"url": text.replace(f"{scheme}://", f"{transport}://", 1), **options}
    if name in BUILTIN:
        factory = _load(BUILTIN[name])
    elif name in _plugins():
        factory = cast("Callable[..., Registry]", _plugins()[name].load())
    else:
        raise ConfigurationError(f"unknown registry {name!r}; available: {', '.join(available())}")
    try:
        registry = factory(**options)
    except TypeError as exc:
        raise ConfigurationError(f"registry {name!r}: {exc}") from None
    if not isinstance(registry, Registry):
        raise ConfigurationError(f"registry factory {name!r} did not return a Registry")
    return registry


def defaults() -> list[Registry]:
    """The backends of :data:`DEFAULT_IDS`, with default options."""
    return [create(name) for name in DEFAULT_IDS]
