"""Loaded by the connector's interpreter before the connector: no request reaches the network.

HTTP requests (`requests`, `httpx` for clients built on it, sync or async, and
`http.client` for clients that speak it themselves) are answered by the recorded answer that matches them (CUTOVER_RESPONSES, a responses.json),
else by the empty page (CUTOVER_EMPTY_PAGE); gRPC calls by the recorded answer that matches
their method path, else by the empty message or the empty stream. Each is noted in
CUTOVER_REQUEST_LOG. The choice of answer is plain Python, testable with any interpreter;
the transports only turn it into their own response objects.
"""
import json, os

_options = json.loads(os.environ.get("CUTOVER_RESPONSES") or "{}")
_recorded = _options.get("responses", [])

if _options.get("no_waiting"):
    # A report the connector polls for, or a rate limit it keeps, has nothing to wait for
    # when every answer is recorded: its sleeps return at once.
    import importlib.abc, sys, time
    time.sleep = lambda seconds=0: None

    # airbyte-cdk's rate limiter keeps its window on the clock (pyrate_limiter), so with
    # sleeps that return at once it would refuse the call instead of waiting: every call is
    # let through, and the buckets' leak threads (a loop around a sleep) are not started.
    _unlimited = {
        "airbyte_cdk.sources.streams.call_rate": ("APIBudget", "_do_acquire"),
        "pyrate_limiter.abstracts.bucket": ("BucketFactory", "schedule_leak"),
    }

    class _Unlimiting(importlib.abc.MetaPathFinder):
        """Finds the limiter's modules as the other finders do, and opens them once run."""

        def find_spec(self, name, path, target=None):
            if name not in _unlimited:
                return None
            for finder in sys.meta_path:
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(name, path, target)
                if spec is None or spec.loader is None:
                    continue
                run = spec.loader.exec_module
                cls, method = _unlimited[name]

                def exec_module(module, run=run, cls=cls, method=method):
                    run(module)
                    if hasattr(getattr(module, cls, None), method):
                        setattr(getattr(module, cls), method, lambda self, *args, **kwargs: None)

                spec.loader.exec_module = exec_module
                return spec
            return None

    sys.meta_path.insert(0, _Unlimiting())
# How many times each recorded entry with a `sequence` has answered, by its index.
_turns = {}

def _recorded_answer(method, url, body=None):
    """The recorded answer for a request: that of the first entry whose `url` is part of
    the URL (and whose `method`, `body_contains` and `commands`, if it has them, match the
    request's and the connector command's),
    the entry's next turn if it has a `sequence`; None when no entry matches."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    elif not isinstance(body, str):
        body = ""  # none, or streamed from a file or generator: not looked into
    for index, entry in enumerate(_recorded):
        if entry.get("url", "\0") not in url:
            continue
        if entry.get("method") and entry["method"].upper() != method.upper():
            continue
        if "body_contains" in entry and entry["body_contains"] not in body:
            continue
        if "commands" in entry and os.environ.get("CUTOVER_COMMAND") not in entry["commands"]:
            continue
        if "sequence" not in entry:
            return entry
        turn = _turns.get(index, 0)
        _turns[index] = turn + 1
        return entry["sequence"][min(turn, len(entry["sequence"]) - 1)]
    return None

def _answer(method, url, body=None):
    """(status, headers, body bytes) for an HTTP request: its recorded answer, else the
    empty page."""
    empty = os.environ.get("CUTOVER_EMPTY_PAGE", "{}")
    answer = _recorded_answer(method, url, body) or {}
    headers = {"Content-Type": "application/json"}
    headers.update(answer.get("headers") or {})
    if "text" in answer:
        body = answer["text"]
    elif "body" in answer:
        body = json.dumps(answer["body"])
    else:
        body = empty
    return int(answer.get("status", 200)), headers, body.encode()

def _log(method, url, status):
    log = os.environ.get("CUTOVER_REQUEST_LOG")
    if log:
        with open(log, "a") as f:
            f.write(json.dumps({"method": method, "url": url, "status": status}) + "\n")

import http, http.client, io

def _phrase(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""

# Clients that speak `http.client` themselves (recurly's): the request is noted instead of
# sent, and the answer read back through `http.client`'s own response parser.
class _Socket:
    def __init__(self, data):
        self._data = data

    def makefile(self, mode, *args, **kwargs):
        return io.BytesIO(self._data)

def _putrequest(self, method, url, *args, **kwargs):
    if "://" not in url:
        scheme = "https" if isinstance(self, http.client.HTTPSConnection) else "http"
        url = "%s://%s%s" % (scheme, self.host, url)
    self._cutover_request = (method, url, b"")

def _send(self, data):
    if isinstance(data, str):
        data = data.encode("latin-1")
    if isinstance(data, bytes):
        method, url, body = self._cutover_request
        self._cutover_request = (method, url, body + data)

def _endheaders(self, message_body=None, **kwargs):
    if message_body is not None:
        _send(self, message_body)

def _getresponse(self):
    method, url, sent = self._cutover_request
    status, headers, body = _answer(method, url, sent)
    _log(method, url, status)
    head = "HTTP/1.1 %d %s\r\n" % (status, _phrase(status))
    for name, value in headers.items():
        head += "%s: %s\r\n" % (name, value)
    head += "Content-Length: %d\r\n\r\n" % len(body)
    response = self.response_class(_Socket(head.encode("latin-1") + body), method=method)
    response.begin()
    return response

http.client.HTTPConnection.connect = lambda self: None
http.client.HTTPConnection.putrequest = _putrequest
http.client.HTTPConnection.putheader = lambda self, header, *values: None
http.client.HTTPConnection.endheaders = _endheaders
http.client.HTTPConnection.send = _send
http.client.HTTPConnection.getresponse = _getresponse

try:
    import requests, requests.adapters
    from requests.models import Response
    from requests.structures import CaseInsensitiveDict

    def _adapter_send(self, request, **kwargs):
        status, headers, body = _answer(request.method, request.url, request.body)
        _log(request.method, request.url, status)
        r = Response()
        r.status_code = status
        r.reason = _phrase(status)
        r._content = body
        r.headers = CaseInsensitiveDict(headers)
        r.url = request.url
        r.request = request
        r.encoding = "utf-8"
        r.connection = self
        try:
            import urllib3
            r.raw = urllib3.HTTPResponse(body=io.BytesIO(body), status=status, preload_content=False,
                                         request_url=request.url, headers=headers)
        except Exception:
            pass
        return r

    requests.adapters.HTTPAdapter.send = _adapter_send
except ImportError:
    pass

# Clients built on `httpx` (firebolt-sdk's): its transports, sync and async, answer instead
# of opening a connection, so that its clients, auth flows and redirects run as they would.
try:
    import httpx

    def _httpx_response(request, sent):
        url = str(request.url)
        status, headers, body = _answer(request.method, url, sent)
        _log(request.method, url, status)
        return httpx.Response(status, headers=headers, content=body, request=request)

    def _httpx_handle(self, request):
        return _httpx_response(request, request.read())

    async def _httpx_handle_async(self, request):
        return _httpx_response(request, await request.aread())

    httpx.HTTPTransport.handle_request = _httpx_handle
    httpx.AsyncHTTPTransport.handle_async_request = _httpx_handle_async
except ImportError:
    pass

# gRPC clients (google-ads'): every channel is one whose calls are answered here. The call's
# method path (`/google.ads.googleads.v15.services.GoogleAdsService/Search`) is its URL and
# its serialized request its body; a recorded `body` is the response in protobuf's JSON
# form (a list: one response each, for a streaming call), else the empty message, or the
# empty stream.
def _grpc_responses(path, deserializer, request_bytes, stream):
    answer = _recorded_answer("POST", path, request_bytes)
    _log("POST", path, 200)
    body = (answer or {}).get("body")
    if body is None:
        bodies = [] if stream else [{}]
    elif isinstance(body, list):
        bodies = body
    else:
        bodies = [body]
    if not stream and len(bodies) != 1:
        raise ValueError("%s is a unary call: its recorded body must be one message" % path)
    responses = []
    for body in bodies:
        if not body:
            responses.append(deserializer(b""))
            continue
        from google.protobuf import json_format
        empty = deserializer(b"")
        # proto-plus messages (google-ads' `use_proto_plus`) wrap the protobuf one.
        message = type(empty).pb(empty) if hasattr(type(empty), "pb") else empty
        json_format.ParseDict(body, message)
        responses.append(deserializer(message.SerializeToString()))
    return responses

def _grpc_serialize(serializer, request):
    if serializer is not None:
        return serializer(request)
    return request.SerializeToString() if hasattr(request, "SerializeToString") else b""

try:
    import grpc

    class _GrpcCall(grpc.Call, grpc.Future):
        """A call that ends with status OK and no metadata: a unary one at once, a streaming
        one once its responses are read (when its done callbacks run, as gRPC's do)."""

        def __init__(self, responses, stream):
            self._responses = responses
            self._iterator = iter(responses)
            self._done = not stream
            self._callbacks = []

        def result(self, timeout=None):
            return self._responses[0] if self._responses else None

        def exception(self, timeout=None):
            return None

        def traceback(self, timeout=None):
            return None

        def add_done_callback(self, fn):
            if self._done:
                fn(self)
            else:
                self._callbacks.append(fn)

        def done(self):
            return self._done

        def running(self):
            return False

        def cancelled(self):
            return False

        def cancel(self):
            return False

        def is_active(self):
            return False

        def time_remaining(self):
            return None

        def add_callback(self, callback):
            return False

        def initial_metadata(self):
            return ()

        def trailing_metadata(self):
            return ()

        def code(self):
            return grpc.StatusCode.OK

        def details(self):
            return ""

        def __iter__(self):
            return self

        def __next__(self):
            try:
                return next(self._iterator)
            except StopIteration:
                if not self._done:
                    self._done = True
                    for fn in self._callbacks:
                        fn(self)
                raise

    class _GrpcMethod:
        """`unary_unary`'s (and the others') callable: a request (or an iterator of them) in,
        a response (or a stream of them) out."""

        def __init__(self, path, serializer, deserializer, request_stream, response_stream):
            self._path = path
            self._serializer = serializer
            self._deserializer = deserializer or (lambda data: data)
            self._request_stream = request_stream
            self._response_stream = response_stream

        def _call(self, request):
            requests = request if self._request_stream else [request]
            sent = b"".join(_grpc_serialize(self._serializer, r) for r in requests)
            responses = _grpc_responses(self._path, self._deserializer, sent, self._response_stream)
            return _GrpcCall(responses, self._response_stream)

        def __call__(self, request, *args, **kwargs):
            call = self._call(request)
            return call if self._response_stream else call.result()

        def with_call(self, request, *args, **kwargs):
            call = self._call(request)
            return call.result(), call

        def future(self, request, *args, **kwargs):
            return self._call(request)

    class _GrpcChannel(grpc.Channel):
        def subscribe(self, callback, try_to_connect=False):
            pass

        def unsubscribe(self, callback):
            pass

        def unary_unary(self, method, request_serializer=None, response_deserializer=None, *args, **kwargs):
            return _GrpcMethod(method, request_serializer, response_deserializer, False, False)

        def unary_stream(self, method, request_serializer=None, response_deserializer=None, *args, **kwargs):
            return _GrpcMethod(method, request_serializer, response_deserializer, False, True)

        def stream_unary(self, method, request_serializer=None, response_deserializer=None, *args, **kwargs):
            return _GrpcMethod(method, request_serializer, response_deserializer, True, False)

        def stream_stream(self, method, request_serializer=None, response_deserializer=None, *args, **kwargs):
            return _GrpcMethod(method, request_serializer, response_deserializer, True, True)

        def close(self):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    grpc.secure_channel = lambda *args, **kwargs: _GrpcChannel()
    grpc.insecure_channel = lambda *args, **kwargs: _GrpcChannel()
except ImportError:
    pass
