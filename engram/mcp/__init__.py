"""MCP servers as tool sources, through the `mcp` SDK (2.x), with connect and call timeouts everywhere.

client.py talks to a server (list tools, call one); calls.py turns a call into the tools activity's
`ToolResult`; sync.py mirrors a server's tools into `tools` rows (type external_mcp, Letta's way).
"""
