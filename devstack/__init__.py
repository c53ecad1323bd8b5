"""Development stand-in for the Backend.AI Manager.

It verifies HMAC signatures and GraphQL JWTs exactly the way the real Manager
does, and offers a handful of echo/streaming endpoints so the webui-host proxy
can be developed, tested and benchmarked without a real Backend.AI cluster.
"""
