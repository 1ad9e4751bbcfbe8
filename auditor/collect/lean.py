"""Per-request work that botocore repeats and the scanner does not need repeated.

A scan makes thousands of small reads, so the scanner's CPU per request is set by botocore's
fixed costs, not by the answers: building the User-Agent, evaluating the endpoint rules, running
the event hooks, signing. Each function here takes one of those costs out of a client without
changing a byte of what it sends (tests compare the requests with an untouched client's). Each
one checks that the botocore or aiobotocore object it changes is the kind it knows, and leaves
the client alone otherwise: a newer botocore only loses the saving.
"""

from __future__ import annotations

import datetime
import hmac
import inspect
import logging
import re
import ssl
import xml.etree.ElementTree as ETree
from collections.abc import Iterator
from hashlib import sha256
from typing import Any
from urllib.parse import urlsplit
from xml.etree.ElementTree import ParseError as XMLParseError

from aiobotocore.endpoint import AioEndpoint
from aiobotocore.hooks import AioHierarchicalEmitter
from aiobotocore.httpsession import AIOHTTPSession
from aiobotocore.parsers import AioRestXMLParser
from botocore.auth import EMPTY_SHA256_HASH, SIGNED_HEADERS_BLACKLIST, S3SigV4Auth, SigV4Auth, _host_from_url
from botocore.awsrequest import AWSRequestPreparer, HeadersDict
from botocore.hooks import EventAliaser
from botocore.httpsession import get_cert_path
from botocore.utils import parse_timestamp
from dateutil.tz import tzutc

try:  # botocore's own check of S3's 200 answers, replaced by _check_200 (the same check, parsed once)
    from botocore.handlers import _handle_200_error, _should_handle_200_error
except ImportError:  # another botocore: its check stays
    _handle_200_error = _should_handle_200_error = None

_hooks_log = logging.getLogger("botocore.hooks")


def lean_client(client: Any) -> None:
    """Every saving below, on one aiobotocore client."""
    _fix_user_agent(client)
    _cache_endpoints(client)
    _lean_events(client)
    _lean_headers(client)
    _lean_signing(client)
    _lean_proxies(client)
    _lean_timestamps(client)
    _lean_parsers(client)
    _parse_once(client)
    _shared_tls(client)


# ----------------------------------------------------------------------------- User-Agent


def _fix_user_agent(client: Any) -> None:
    """Build the client's User-Agent once instead of twice per request.

    botocore rebuilds the header for every request from a dozen sanitised components (about a
    tenth of the scanner's CPU per request); only its feature-usage suffix can differ between
    requests, and nothing the scanner learns depends on it.
    """
    creator = getattr(client, "_user_agent_creator", None)
    if creator is None or not callable(getattr(creator, "to_string", None)):
        return
    text = creator.to_string()
    creator.to_string = lambda: text


# ----------------------------------------------------------------------------- endpoints

# A bucket name S3's endpoint rules treat alike whatever its letters: a valid DNS label (lowercase letters,
# digits, single hyphens; 3-63 characters) without "--" (S3 Express, Outposts and access point aliases
# are told apart by "--" suffixes) and without "." or ":" (path style, ARNs). The rules read only its
# length (in substrings) and the label's validity; the resolved endpoint names it once, in the URL.
_PLAIN_BUCKET = re.compile(r"[a-z0-9](?:[a-z0-9]|-(?!-)){1,61}[a-z0-9]")


def _cache_endpoints(client: Any, size: int = 4096) -> None:
    """Resolve an endpoint once per operation shape and bucket, not once per request.

    botocore evaluates the service's endpoint rules for every request (another tenth of the
    scanner's CPU). The rules read only the operation's static context parameters, the request
    members named as context parameters (``Bucket`` for S3) and the client's fixed settings
    (region, endpoint URL, FIPS, dual-stack), so the answer is the same for every request with the
    same operation and those members. Operations whose rules read other parts of the request
    (``operationContextParams``) are resolved every time. For a plain bucket name (``_PLAIN_BUCKET``), the
    rules are evaluated once per operation and name length, for a stand-in name, and the bucket's own name is
    put in the URL in its place (when the stand-in appears exactly once in the answer, and nowhere else).
    """
    resolver = getattr(client, "_ruleset_resolver", None)
    if resolver is None:
        return
    original = resolver.construct_endpoint
    cache: dict[Any, Any] = {}
    templates: dict[Any, Any] = {}
    # Per operation: its static context parameters, and (parameter, request member) of the others.
    shapes: dict[Any, tuple[tuple[Any, ...], tuple[tuple[str, str], ...]] | None] = {}

    def shape_of(operation_model: Any) -> tuple[tuple[Any, ...], tuple[tuple[str, str], ...]] | None:
        if operation_model not in shapes:
            if operation_model.operation_context_parameters:
                shapes[operation_model] = None
            else:
                static = tuple((p.name, p.value) for p in operation_model.static_context_parameters)
                members = tuple((p.name, p.member_name) for p in operation_model.context_parameters)
                shapes[operation_model] = (static, members)
        return shapes[operation_model]

    async def construct_endpoint(operation_model: Any, call_args: Any, request_context: Any) -> Any:
        shape = shape_of(operation_model)
        if shape is None:
            return await original(operation_model, call_args, request_context)
        static, members = shape
        args = call_args or {}
        try:
            key = (static, tuple((name, args.get(member)) for name, member in members))
            hash(key)
        except TypeError:  # a member that is not a plain value
            return await original(operation_model, call_args, request_context)
        found = cache.get(key)
        if found is not None:
            return found
        bucket = args.get("Bucket")
        if isinstance(bucket, str) and _PLAIN_BUCKET.fullmatch(bucket):
            # Resolved once per operation and name length, for a stand-in of the same length and kind.
            stand_in = "q" * len(bucket)
            template_key = (operation_model.name, static, len(bucket),
                            tuple((name, "" if member == "Bucket" else args.get(member)) for name, member in members))
            if template_key not in templates:
                got = await original(operation_model, {**args, "Bucket": stand_in}, request_context)
                usable = (got.url.count(stand_in) == 1 and stand_in not in repr(got.properties)
                          and stand_in not in repr(got.headers) and getattr(got, "_fields", ())[:1] == ("url",))
                templates[template_key] = got if usable else None
            template = templates[template_key]
            if template is not None:
                # template._replace(url=...), without namedtuple's generic field mapping
                return tuple.__new__(type(template), (template.url.replace(stand_in, bucket), *template[1:]))
        if len(cache) >= size:
            cache.clear()
        cache[key] = await original(operation_model, call_args, request_context)
        return cache[key]

    resolver.construct_endpoint = construct_endpoint
    _cache_signing_contexts(resolver)


def _cache_signing_contexts(resolver: Any, size: int = 256) -> None:
    """Read an endpoint's ``authSchemes`` into a signing context once per endpoint, not once per request.

    botocore converts the list for every request (and formats it for a debug line first, logged or
    not). The answer depends only on the list and the client's requested auth scheme, which is fixed;
    the endpoints above are shared between requests, and their lists with them, so a list is known
    by its identity (and kept, so that the identity stays its own). Each request gets its own copy of
    the signing context, which later handlers change.
    """
    original = getattr(resolver, "auth_schemes_to_signing_ctx", None)
    if not callable(original):
        return
    known: dict[int, tuple[Any, Any, dict[str, Any]]] = {}
    log = logging.getLogger("botocore.regions")

    def auth_schemes_to_signing_ctx(auth_schemes: Any) -> tuple[Any, dict[str, Any]]:
        found = known.get(id(auth_schemes))
        if found is None or found[0] is not auth_schemes or log.isEnabledFor(logging.DEBUG):
            auth_type, context = original(auth_schemes)
            if not isinstance(context, dict) or any(isinstance(v, (dict, list, set)) for v in context.values()):
                return auth_type, context  # a context with parts later handlers could change in place
            if len(known) >= size:
                known.clear()
            found = known[id(auth_schemes)] = (auth_schemes, auth_type, dict(context))
        return found[1], dict(found[2])

    resolver.auth_schemes_to_signing_ctx = auth_schemes_to_signing_ctx


# ----------------------------------------------------------------------------- event hooks


class _LeanEmitter(AioHierarchicalEmitter):
    """aiobotocore's emitter, calling the same handlers in the same order with the same arguments.

    aiobotocore wraps every handler's answer in a coroutine of its own and logs every call; a
    request emits about a dozen events to about thirty handlers, nearly all synchronous and
    answering None. Here an answer is awaited only when it is awaitable, and the log line is
    written only when debug logging is on.
    """

    def handlers(self, event_name: str) -> list[Any]:
        """The handlers of ``event_name`` (an aliased name), in their order, as botocore caches them."""
        found: list[Any] | None = self._lookup_cache.get(event_name)
        if found is None:
            found = self._lookup_cache[event_name] = self._handlers.prefix_search(event_name)
        return found

    async def _emit(self, event_name: str, kwargs: dict[str, Any], stop_on_response: bool = False) -> list[Any]:
        handlers = self._lookup_cache.get(event_name)  # handlers(), without a call per event when cached
        if handlers is None:
            handlers = self.handlers(event_name)
        if not handlers:
            return []
        kwargs["event_name"] = event_name
        debug = _hooks_log.isEnabledFor(logging.DEBUG)
        responses: list[Any] = []
        for handler in handlers:
            if debug:
                _hooks_log.debug("Event %s: calling handler %s", event_name, handler)
            response = handler(**kwargs)
            if response is not None and inspect.isawaitable(response):
                response = await response
            responses.append((handler, response))
            if stop_on_response and response is not None:
                return responses
        return responses


class _LeanAliaser(EventAliaser):
    """botocore's event aliasing, handing the arguments straight to the lean emitter's ``_emit``
    (botocore repacks them twice on the way)."""

    def emit(self, event_name: str, **kwargs: Any) -> Any:
        name = self._alias_name_cache.get(event_name) or self._alias_event_name(event_name)
        return self._emitter._emit(name, kwargs)

    def handlers(self, event_name: str) -> list[Any]:
        """The handlers ``emit(event_name)`` would call, in their order."""
        name = self._alias_name_cache.get(event_name) or self._alias_event_name(event_name)
        found: list[Any] = self._emitter.handlers(name)
        return found


class _LeanEndpoint(AioEndpoint):
    """aiobotocore's endpoint, announcing an answer only to handlers there are.

    After every attempt aiobotocore builds the answer's response dict a second time to emit
    ``response-received``, which no handler of the scanner's clients listens to. With no handler
    the event is not emitted, which is all emitting it would have done; with one, it is emitted
    as before.
    """

    async def _get_response(self, request: Any, operation_model: Any, context: Any) -> Any:
        service_id = operation_model.service_model.service_id.hyphenize()
        if self._event_emitter.handlers(f"response-received.{service_id}.{operation_model.name}"):
            return await super()._get_response(request, operation_model, context)
        return await self._do_get_response(request, operation_model, context)


def _lean_events(client: Any) -> None:
    events = getattr(client.meta, "events", None)
    emitter = getattr(events, "_emitter", None)
    if type(emitter) is AioHierarchicalEmitter:
        emitter.__class__ = _LeanEmitter
        if type(events) is EventAliaser:
            events.__class__ = _LeanAliaser
            endpoint: Any = getattr(client, "_endpoint", None)
            if type(endpoint) is AioEndpoint and endpoint._event_emitter is events:
                endpoint.__class__ = _LeanEndpoint


# ----------------------------------------------------------------------------- prepared headers


class _LeanHeadersDict(HeadersDict):
    """A prepared request's headers, as botocore's ``HeadersDict`` holds them (case-insensitive,
    the first spelling of a name kept, in order), in a plain dict keyed by the lowercase name:
    botocore makes an object per name for every lookup, about 4% of a request's instructions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lean: dict[str, tuple[str, Any]] = {}
        self.update(*args, **kwargs)

    def __setitem__(self, key: str, value: Any) -> None:
        lower = key.lower()
        known = self._lean.get(lower)
        self._lean[lower] = (known[0] if known else key, value)

    def __getitem__(self, key: str) -> Any:
        return self._lean[key.lower()][1]

    def __delitem__(self, key: str) -> None:
        del self._lean[key.lower()]

    def __contains__(self, key: object) -> bool:
        return key.lower() in self._lean  # type: ignore[attr-defined]  # a name that is not text fails as botocore's does

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._lean.values())

    def __len__(self) -> int:
        return len(self._lean)

    def __repr__(self) -> str:
        return repr(dict(self._lean.values()))

    def copy(self) -> _LeanHeadersDict:
        return _LeanHeadersDict(self.items())


class _LeanPreparer(AWSRequestPreparer):
    """botocore's request preparation, with the prepared headers in a ``_LeanHeadersDict``."""

    def _prepare_headers(self, original: Any, prepared_body: Any = None) -> Any:
        headers = _LeanHeadersDict(original.headers.items())
        if "Transfer-Encoding" in headers or "Content-Length" in headers or original.method in ("GET", "HEAD", "OPTIONS"):
            return headers
        length = self._determine_content_length(prepared_body)
        if length is None:
            headers["Transfer-Encoding"] = "chunked"  # a body of unknown length, as botocore sends it
        else:
            headers["Content-Length"] = str(length)
        return headers


_PREPARER = _LeanPreparer()


def _prepare_lean(request: Any, **_: Any) -> None:
    if type(getattr(request, "_request_preparer", None)) is AWSRequestPreparer:
        request._request_preparer = _PREPARER


def _lean_headers(client: Any) -> None:
    """Requests of ``client`` prepared by ``_LeanPreparer``: swapped in before anything prepares them
    (the signer reads the body through a preparation)."""
    events = getattr(client.meta, "events", None)
    if events is not None:
        events.register_first("request-created", _prepare_lean, unique_id="auditor-lean-headers")


# ----------------------------------------------------------------------------- signing


class _SignedHeaders(dict[str, list[str]]):
    """What SigV4 reads of the headers it signs: their lowercase names and ``get_all``."""

    def get_all(self, name: str) -> list[str]:
        return self[name]


_HOSTS: dict[str, str] = {}
_KEYS: dict[tuple[str, str, str, str], bytes] = {}
_UNSAFE_URL = frozenset("\t\r\n")


def _origin(url: Any) -> str | None:
    """``scheme://userinfo@host:port`` of ``url``, up to its path, query or fragment: what its Host
    header and its proxy depend on. None for a URL without one, or with characters that urllib
    drops wherever they stand (such a URL is looked at whole)."""
    if not isinstance(url, str) or not _UNSAFE_URL.isdisjoint(url):
        return None
    start = url.find("//")
    if start < 0:
        return None
    ends = [i for i in (url.find("/", start + 2), url.find("?", start + 2), url.find("#", start + 2)) if i >= 0]
    return url[:min(ends)] if ends else url


def _host(url: str) -> str:
    """botocore's Host header for ``url``: it depends only on the scheme and authority."""
    base = _origin(url)
    if base is None:
        whole: str = _host_from_url(url)
        return whole
    host = _HOSTS.get(base)
    if host is None:
        if len(_HOSTS) >= 4096:
            _HOSTS.clear()
        host = _HOSTS[base] = _host_from_url(base)
    return host


class _LeanSigV4:
    """botocore's SigV4, byte for byte, without its repeated work.

    botocore collects the signed headers twice per request (for the canonical request and for the
    Authorization header, each time through ``email`` header parsing and a URL split), prepares
    the whole request again to read an empty body, and derives the signing key from the secret
    with four HMACs every time. Here the headers are collected once per signature, an empty body
    is hashed without preparing the request, and the day's signing key is derived once.
    """

    _signed: _SignedHeaders | None = None

    def add_auth(self, request: Any) -> None:
        self._signed = None
        try:
            super().add_auth(request)  # type: ignore[misc]
        finally:
            self._signed = None

    def headers_to_sign(self, request: Any) -> _SignedHeaders:
        if self._signed is not None:
            return self._signed
        signed = _SignedHeaders()
        for name, value in request.headers.items():
            lname = name.lower()
            if lname not in SIGNED_HEADERS_BLACKLIST:
                signed.setdefault(lname, []).append(value)
        if "host" not in signed:
            signed["host"] = [_host(request.url)]
        self._signed = signed
        return signed

    def canonical_request(self, request: Any) -> str:
        # botocore's canonical request, with the URL split once (botocore splits it twice) and the
        # header lines built in one pass.
        parts = urlsplit(request.url)
        path = self._normalize_url_path(parts.path)  # type: ignore[attr-defined]
        query = (self._canonical_query_string_params(request.params) if request.params  # type: ignore[attr-defined]
                 else self._canonical_query_string_url(parts))  # type: ignore[attr-defined]
        signed = self.headers_to_sign(request)
        names = sorted(signed)
        lines = "\n".join(f"{name}:{','.join(' '.join(v.split()) for v in signed[name])}" for name in names)
        headers = request.headers
        checksum = (headers["X-Amz-Content-SHA256"] if "X-Amz-Content-SHA256" in headers
                    else self.payload(request))
        return "\n".join((request.method.upper(), path, query, lines + "\n",
                          self.signed_headers(signed), checksum))  # type: ignore[attr-defined]

    def payload(self, request: Any) -> str:
        if (request.data or self._is_streaming_checksum_payload(request)  # type: ignore[attr-defined]
                or not self._should_sha256_sign_payload(request)):  # type: ignore[attr-defined]
            return super().payload(request)  # type: ignore[misc, no-any-return]
        empty: str = EMPTY_SHA256_HASH
        return empty

    def signature(self, string_to_sign: str, request: Any) -> str:
        day = request.context["timestamp"][0:8]
        secret = self.credentials.secret_key  # type: ignore[attr-defined]
        region, service = self._region_name, self._service_name  # type: ignore[attr-defined]
        cache = (secret, day, region, service)
        key = _KEYS.get(cache)
        if key is None:
            key = ("AWS4" + secret).encode()
            for part in (day, region, service, "aws4_request"):
                key = hmac.new(key, part.encode(), sha256).digest()
            if len(_KEYS) >= 64:
                _KEYS.clear()
            _KEYS[cache] = key
        return hmac.new(key, string_to_sign.encode(), sha256).hexdigest()


class _LeanS3SigV4Auth(_LeanSigV4, S3SigV4Auth):
    pass


class _LeanSigV4Auth(_LeanSigV4, SigV4Auth):
    pass


_LEAN_AUTH: dict[type, type] = {S3SigV4Auth: _LeanS3SigV4Auth, SigV4Auth: _LeanSigV4Auth}


def _lean_signing(client: Any) -> None:
    signer: Any = getattr(client, "_request_signer", None)
    original = getattr(signer, "get_auth_instance", None)
    if original is None or not inspect.iscoroutinefunction(original):
        return

    async def get_auth_instance(*args: Any, **kwargs: Any) -> Any:
        auth = await original(*args, **kwargs)
        lean = _LEAN_AUTH.get(type(auth))
        if lean is not None:
            auth.__class__ = lean
        return auth

    signer.get_auth_instance = get_auth_instance


# ----------------------------------------------------------------------------- proxies


def _lean_proxies(client: Any) -> None:
    """Look up the proxy (and its headers) once per scheme and host, not twice per request.

    aiobotocore asks the client's fixed proxy configuration for every request, parsing the URL
    each time; the answer depends only on the URL's scheme and its user and host part.
    """
    config: Any = getattr(getattr(getattr(client, "_endpoint", None), "http_session", None), "_proxy_config", None)
    url_for, headers_for = getattr(config, "proxy_url_for", None), getattr(config, "proxy_headers_for", None)
    if not (callable(url_for) and callable(headers_for)):
        return
    urls: dict[str, Any] = {}
    headers: dict[str, Any] = {}

    def cached(table: dict[str, Any], original: Any) -> Any:
        def lookup(url: Any) -> Any:
            key = _origin(url)
            if key is None:
                return original(url)
            if key not in table:
                if len(table) >= 4096:
                    table.clear()
                table[key] = original(key)
            found = table[key]
            return dict(found) if isinstance(found, dict) else found  # the caller may add to the headers
        return lookup

    config.proxy_url_for = cached(urls, url_for)
    config.proxy_headers_for = cached(headers, headers_for)


# ----------------------------------------------------------------------------- timestamps

# What S3 listings say of every key: "2024-05-01T12:00:00.000Z".
_ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{3}|\.\d{6})?Z")
_UTC = tzutc()


def _timestamp(value: Any) -> datetime.datetime:
    """botocore's timestamp parser, with the form every listed key has read without dateutil (the
    same datetime, in the same time zone type); anything else goes to botocore's parser."""
    if isinstance(value, str) and _ISO_UTC.fullmatch(value):
        return datetime.datetime.fromisoformat(value[:-1]).replace(tzinfo=_UTC)
    parsed: datetime.datetime = parse_timestamp(value)
    return parsed


def _lean_timestamps(client: Any) -> None:
    factory: Any = getattr(getattr(client, "_endpoint", None), "_response_parser_factory", None)
    defaults = getattr(factory, "_defaults", None)
    if isinstance(defaults, dict) and "timestamp_parser" not in defaults and callable(
            getattr(factory, "set_parser_defaults", None)):
        factory.set_parser_defaults(timestamp_parser=_timestamp)


# ----------------------------------------------------------------------------- S3 answers parsed once

_PARSED: dict[int, tuple[bytes, Any]] = {}  # id(body) -> (body, its root element), until the parser takes it


def _check_200(operation_model: Any, response_dict: Any, **kwargs: Any) -> None:
    """botocore's check that a 200 answer from S3 is not an error (an ``Error`` root, or XML cut
    short: then it is a 500, and retried), keeping the parsed body for the response parser."""
    if not _should_handle_200_error(operation_model, response_dict):
        return
    body = response_dict["body"]
    if response_dict["status_code"] != 200 or not body:
        return
    try:
        parser = ETree.XMLParser(target=ETree.TreeBuilder(), encoding="utf-8")
        parser.feed(body)
        root = parser.close()
    except XMLParseError:
        response_dict["status_code"] = 500
        return
    if root.tag == "Error":
        response_dict["status_code"] = 500
        return
    if len(_PARSED) >= 256:  # answers whose parsing never came (an exception in between)
        _PARSED.clear()
    _PARSED[id(body)] = (body, root)


class _ParseOnce:
    def _parse_xml_string_to_dom(self, xml_string: Any) -> Any:
        kept = _PARSED.pop(id(xml_string), None)
        if kept is not None and kept[0] is xml_string:
            return kept[1]
        return super()._parse_xml_string_to_dom(xml_string)  # type: ignore[misc]


class _LeanRestXMLParser(_ParseOnce, AioRestXMLParser):
    pass


def _lean_parser(parser: Any) -> Any:
    if type(parser) is AioRestXMLParser and _handle_200_error is not None:
        parser.__class__ = _LeanRestXMLParser
    return parser


def _lean_parsers(client: Any) -> None:
    """One response parser per protocol, not one per answer.

    botocore makes a parser for every answer (an XML one compiles a regular expression and makes an
    event-stream parser as it is made), though a parser keeps nothing from one answer to the next.
    The clients of a session share the factory; each parser is made by it with its defaults of the
    moment, and made again when they change. A rest-xml parser takes the XML ``_check_200`` parsed.
    """
    factory: Any = getattr(getattr(client, "_endpoint", None), "_response_parser_factory", None)
    if not callable(getattr(factory, "create_parser", None)) or getattr(factory, "_auditor_parsers", False):
        return
    create = factory.create_parser
    made: dict[Any, Any] = {}

    def create_parser(protocol_name: str) -> Any:
        defaults = getattr(factory, "_defaults", None)
        try:
            key = (protocol_name, tuple(defaults.items()) if isinstance(defaults, dict) else defaults)
            parser = made.get(key)
        except TypeError:  # defaults that cannot be a key: a parser for this answer only
            return _lean_parser(create(protocol_name))
        if parser is None:
            if len(made) >= 64:
                made.clear()
            parser = made[key] = _lean_parser(create(protocol_name))
        return parser

    factory.create_parser = create_parser
    factory._auditor_parsers = True


def _parse_once(client: Any) -> None:
    """Parse each S3 answer's XML once, not twice.

    botocore parses every 200 answer from S3 to see whether it is an error in disguise, then
    parses it again to read it. Here the first parse is kept (by the body's identity) and handed
    to the response parser (see ``_lean_parsers``).
    """
    events: Any = getattr(client.meta, "events", None)
    factory: Any = getattr(getattr(client, "_endpoint", None), "_response_parser_factory", None)
    if (client.meta.service_model.service_name != "s3" or _handle_200_error is None or events is None
            or not getattr(factory, "_auditor_parsers", False)):
        return
    events.unregister("before-parse.s3.*", _handle_200_error)
    events.register_first("before-parse.s3.*", _check_200)


# ----------------------------------------------------------------------------- TLS


class _SharedContext(ssl.SSLContext):
    """A TLS context made once and given to every client with the same CA bundle: it loads that
    bundle once (each client would load it again, parsing every certificate in it)."""

    _auditor_ca: str | None = None
    _auditor_loaded = False

    def load_verify_locations(self, cafile: Any = None, capath: Any = None, cadata: Any = None) -> None:
        if (cafile, capath, cadata) == (self._auditor_ca, None, None):
            if self._auditor_loaded:
                return
            self._auditor_loaded = True
        super().load_verify_locations(cafile, capath, cadata)


_CONTEXTS: dict[str, _SharedContext] = {}


def _shared_tls(client: Any) -> None:
    """One TLS context per CA bundle for the clients of this process.

    Only for clients with no proxy and no client certificate, which would change the context,
    and only the bundle the context was made for is skipped when loaded again: a client never
    trusts another bundle than its own.
    """
    session: Any = getattr(getattr(client, "_endpoint", None), "http_session", None)
    if type(session) is not AIOHTTPSession or not getattr(session, "_verify", None):
        return
    if getattr(session, "_cert_file", None) or getattr(getattr(session, "_proxy_config", None), "_proxies", None):
        return
    ca = get_cert_path(session._verify)
    if not isinstance(ca, str):
        return
    original = session._get_ssl_context

    def shared() -> Any:
        known = _CONTEXTS.get(ca)
        if known is not None:
            return known
        made: Any = original()
        if type(made) is not ssl.SSLContext:
            return made
        context: Any = made
        context.__class__ = _SharedContext
        context._auditor_ca = ca
        _CONTEXTS[ca] = context
        return context

    session._get_ssl_context = shared
