"""The application shell: the `forge` command and the servers it supervises.

The top floor of four (forge -> flows -> tasks -> forge_core): it parses what the user typed,
calls a flow or the library, and prints the result. Nothing below imports it.
"""
