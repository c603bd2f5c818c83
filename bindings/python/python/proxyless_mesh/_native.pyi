"""Type stubs of the native module (Rust, pyo3). Use the package's
``Client``; ``Engine`` is what it wraps."""

from os import PathLike
from typing import Iterable, List, Mapping, Optional, Sequence, Tuple, Union

_Text = Union[str, bytes]
_Headers = Union[Mapping[str, _Text], Mapping[bytes, _Text], Iterable[Tuple[_Text, _Text]]]
_Body = Union[bytes, bytearray, memoryview, str]

DEFAULT_MAX_BODY_BYTES: int

def noop() -> None:
    """Does nothing: the cost of a call into the module."""

class Response:
    """An HTTP response received through the mesh."""

    @property
    def status(self) -> int: ...
    @property
    def headers(self) -> List[Tuple[str, str]]:
        """``(name, value)`` pairs in order; names lower-case, values Latin-1."""
    @property
    def body(self) -> bytes: ...
    @property
    def cluster(self) -> Optional[str]: ...
    @property
    def endpoint(self) -> Optional[str]: ...
    @property
    def traceparent(self) -> Optional[str]:
        """The engine's span of the request (W3C), when it was traced."""
    def header(self, name: str, default: Optional[str] = None) -> Optional[str]: ...
    def text(self) -> str: ...
    def json(self) -> object: ...

class Decision:
    """Where and how to send one attempt yourself (decide mode)."""

    @property
    def endpoint(self) -> str: ...
    @property
    def authority(self) -> str: ...
    @property
    def cluster(self) -> str: ...
    @property
    def timeout(self) -> Optional[float]: ...
    @property
    def delay(self) -> float: ...
    @property
    def attempt(self) -> int: ...
    @property
    def max_attempts(self) -> int: ...
    @property
    def headers(self) -> List[Tuple[str, str]]: ...

class CancelHandle:
    def cancel(self) -> None: ...

class Completions:
    def __init__(self) -> None: ...
    def fileno(self) -> int: ...
    def drain(self) -> List[Tuple[int, bool, object]]: ...

class Engine:
    def __init__(
        self,
        *,
        config: Optional[str] = None,
        config_file: Optional[Union[str, PathLike]] = None,
        format: str = "auto",
        xds_targets: Optional[Sequence[str]] = None,
        xds_bootstrap: Optional[str] = None,
        ready_timeout: float = 5.0,
        policy: Optional[str] = None,
        policy_host: Optional[str] = None,
        worker_threads: int = 1,
        max_body_bytes: int = ...,
        workload: Optional[str] = None,
        namespace: Optional[str] = None,
        workload_labels: Optional[Mapping[str, str]] = None,
        metrics_address: Optional[str] = None,
        otlp_endpoint: Optional[str] = None,
        trace_sample_ratio: float = 0.01,
        trace_service_name: Optional[str] = None,
        access_log: Optional[Union[str, PathLike]] = None,
        access_log_ratio: float = 1.0,
    ) -> None: ...
    @property
    def metrics_address(self) -> Optional[str]: ...
    def request(
        self,
        method: str,
        url: str,
        headers: Optional[_Headers] = None,
        body: Optional[_Body] = None,
        timeout: Optional[float] = None,
        interruptible: bool = False,
    ) -> Response: ...
    def submit(
        self,
        completions: Completions,
        token: int,
        method: str,
        url: str,
        headers: Optional[_Headers] = None,
        body: Optional[_Body] = None,
        timeout: Optional[float] = None,
    ) -> CancelHandle: ...
    def resolve(self, method: str, url: str, headers: Optional[_Headers] = None) -> Decision: ...
    def report(
        self,
        decision: Decision,
        status: Optional[int] = None,
        headers: Optional[_Headers] = None,
        failure: Optional[str] = None,
    ) -> Optional[Decision]: ...
    def config_dump(self) -> str: ...
    def metrics(self) -> str: ...
    def close(self) -> None: ...
