"""Local runtime: the processes `engram up` supervises (embedded Postgres, Temporal dev server,
worker, API) and the helpers tests use to start the same servers.

Public surface (what tests/conftest.py and the CLI import):

    start_embedded_postgres(pgdata) -> EmbeddedPostgres   .url, .url_for(db), .create_database(db), .stop()
    start_temporal_dev_server(...)  -> TemporalDevServer  .address, .ui_url, .stop()
    temporal_binary() -> Path                              the `temporal` CLI next to sys.executable
    ensure_ports_free({...})                               raises PortInUse naming the port
"""

from engram.runtime.embedded_postgres import EmbeddedPostgres, start_embedded_postgres
from engram.runtime.processes import PortInUse, StartupError, ensure_ports_free, free_port, port_is_free
from engram.runtime.temporal_server import TemporalDevServer, start_temporal_dev_server, temporal_binary

__all__ = [
    "EmbeddedPostgres", "PortInUse", "StartupError", "TemporalDevServer", "ensure_ports_free", "free_port",
    "port_is_free", "start_embedded_postgres", "start_temporal_dev_server", "temporal_binary",
]  # fmt: skip
