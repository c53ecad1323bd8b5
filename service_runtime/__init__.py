"""What every process of a host shares at run time: the ZeroMQ channel (both halves), the invalidated-record
caches, the etcd follower and admin service, Redis and etcd clients, key files, logging, metrics, settings,
SIGHUP reload and the one process skeleton (``process.run_process``).  Everything with I/O lives here;
``contract`` holds the data, codecs and rules it is built on.
"""
