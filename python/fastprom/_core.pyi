from typing import Any, Callable, final

__all__ = ["__version__", "MetricsServer", "ServerThread", "start_http_server"]

__version__: str

@final
class MetricsServer:
    def shutdown(self) -> None: ...
    def server_close(self) -> None: ...
    @property
    def server_port(self) -> int: ...
    @property
    def server_address(self) -> tuple[str, int] | tuple[str, int, int, int]: ...

@final
class ServerThread:
    def join(self, timeout: float | None = None) -> None: ...
    def is_alive(self) -> bool: ...
    @property
    def daemon(self) -> bool: ...
    @property
    def name(self) -> str: ...

def start_http_server(
    port: int,
    addr: str,
    registry: Any,
    render: Callable[[bool, str, int, list[str] | None], bytes],
) -> tuple[MetricsServer, ServerThread]: ...
