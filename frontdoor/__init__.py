"""Front door: terminates browser connections, reads sessions, proxies signed calls to the Manager.

It never holds a user's secret key: signatures come from the signer pool over ZeroMQ, and every
session write goes through the session daemon.
"""
